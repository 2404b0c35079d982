// boxblur: mean of a (2 radius + 1) square, exactly cv::blur.
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "boxblur",
    .summary = "Box blur: the mean of a square of side 2 x radius + 1 (cv::blur, reflected borders)",
    .example = "boxblur=radius=2",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "radius", .summary = "half the side of the square, in pixels", .default_value = 1, .minimum = 1,
                .maximum = 200, .integer = true}},
    .halo = [](const strata::filter_args& args) { return args.integer("radius"); },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const int side = 2 * args.integer("radius") + 1;
        cv::blur(input, output, {side, side});
    },
});

}  // namespace
