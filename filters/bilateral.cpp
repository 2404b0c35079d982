// bilateral: edge-preserving smoothing, exactly cv::bilateralFilter.
#include <algorithm>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "bilateral",
    .summary = "Bilateral filter (cv::bilateralFilter: diameter, sigma of colour and space); 8-bit or float, 1 or 3 bands",
    .example = "bilateral=diameter=9:sigma_color=75:sigma_space=75",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "diameter", .summary = "of the neighbourhood, in pixels (OpenCV takes 3 for 1 and 2)", .default_value = 9, .minimum = 1, .maximum = 31, .integer = true},
               {.name = "sigma_color", .summary = "how different colours may be and still mix", .default_value = 50, .minimum = 0.1, .maximum = 1000},
               {.name = "sigma_space", .summary = "how far pixels may be and still mix", .default_value = 50, .minimum = 0.1, .maximum = 1000}},
    // OpenCV filters over a radius of diameter / 2, but at least 1: diameters
    // 1 and 2 read one row above and below.
    .halo = [](const strata::filter_args& args) { return std::max(1, args.integer("diameter") / 2); },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        if ((input.depth() != CV_8U && input.depth() != CV_32F) || (input.channels() != 1 && input.channels() != 3)) {
            throw strata::error(fmt::format("bilateral: works on 8-bit or float images of 1 or 3 bands, not {} band{} of {} bits",
                                            input.channels(), input.channels() == 1 ? "" : "s", input.elemSize1() * 8));
        }
        cv::bilateralFilter(input, output, args.integer("diameter"), args.number("sigma_color"), args.number("sigma_space"));
    },
});

}  // namespace
