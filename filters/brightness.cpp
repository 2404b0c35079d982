// brightness: output = input x contrast + brightness x full scale, saturated.
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "brightness",
    .summary = "Brightness and contrast: input x contrast + brightness x full scale, saturated (cv::Mat::convertTo); alpha kept",
    .example = "brightness=brightness=0.1:contrast=1.2",
    .kind = strata::filter_kind::point,
    .params = {{.name = "brightness", .summary = "offset, as a fraction of full scale", .default_value = 0, .minimum = -1, .maximum = 1},
               {.name = "contrast", .summary = "gain", .default_value = 1, .minimum = 0, .maximum = 10}},
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        input.convertTo(output, -1, args.number("contrast"), args.number("brightness") * strata::full_scale(input.depth()));
        strata::keep_alpha(input, output);
    },
});

}  // namespace
