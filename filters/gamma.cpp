// gamma: output = full scale x (input / full scale) ^ (1 / gamma), rounded; alpha kept.
#include <cmath>

#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "gamma",
    .summary = "Gamma correction: full scale x (input / full scale)^(1/gamma); above 1 brightens; alpha kept",
    .example = "gamma=2.2",
    .kind = strata::filter_kind::point,
    .params = {{.name = "gamma", .summary = "exponent divisor", .default_value = 2.2, .minimum = 0.05, .maximum = 20}},
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const double top = strata::full_scale(input.depth());
        const double exponent = 1.0 / args.number("gamma");
        cv::Mat scaled;
        input.convertTo(scaled, CV_64F, 1.0 / top);
        cv::pow(scaled, exponent, scaled);
        scaled.convertTo(output, input.depth(), top);
        strata::keep_alpha(input, output);
    },
});

}  // namespace
