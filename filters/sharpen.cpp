// sharpen: unsharp mask, input + amount x (input - gaussblur(input, sigma)).
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "sharpen",
    .summary = "Unsharp mask: input + amount x (input - Gaussian blur of sigma), saturated to the sample range",
    .example = "sharpen=sigma=1.5:amount=1",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "sigma", .summary = "blur of the mask, in pixels", .default_value = 1, .minimum = 0.1, .maximum = 50},
               {.name = "amount", .summary = "strength", .default_value = 1, .minimum = 0, .maximum = 10}},
    .halo = [](const strata::filter_args& args) { return strata::gaussian_radius(args.number("sigma")); },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const double amount = args.number("amount");
        cv::Mat blurred;
        cv::GaussianBlur(input, blurred, {0, 0}, args.number("sigma"));
        cv::addWeighted(input, 1 + amount, blurred, -amount, 0, output);
    },
});

}  // namespace
