// gaussblur: Gaussian blur, exactly cv::GaussianBlur(input, output, {0, 0}, sigma).
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "gaussblur",
    .summary = "Gaussian blur (cv::GaussianBlur, kernel size from sigma, reflected borders)",
    .example = "gaussblur=sigma=3",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "sigma", .summary = "standard deviation in pixels", .default_value = 1, .minimum = 0.1, .maximum = 100}},
    .halo = [](const strata::filter_args& args) { return strata::gaussian_radius(args.number("sigma")); },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        cv::GaussianBlur(input, output, {0, 0}, args.number("sigma"));
    },
});

}  // namespace
