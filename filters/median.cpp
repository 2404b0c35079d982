// median: median of a size x size square, exactly cv::medianBlur.
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "median",
    .summary = "Median filter over a square of odd side (cv::medianBlur, replicated borders; 16-bit and float: 3 or 5)",
    .example = "median=size=5",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "size", .summary = "side of the square, odd", .default_value = 3, .minimum = 3, .maximum = 99,
                .integer = true}},
    .halo = [](const strata::filter_args& args) { return args.integer("size") / 2; },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const int size = args.integer("size");
        if (size % 2 == 0) throw strata::error(fmt::format("median: size {} is even; accepted: odd sizes 3 to 99", size));
        if (input.depth() != CV_8U && size > 5) {
            throw strata::error(fmt::format("median: size {} on 16-bit or float images; accepted: 3 or 5", size));
        }
        cv::medianBlur(input, output, size);
    },
});

}  // namespace
