// invert: the photographic negative of the colour bands; alpha is kept.
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "invert",
    .summary = "Negative: full scale minus each colour sample (255, 65535 or 1.0); alpha is kept",
    .example = "invert",
    .kind = strata::filter_kind::point,
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) {
        cv::subtract(cv::Scalar::all(strata::full_scale(input.depth())), input, output);
        strata::keep_alpha(input, output);
    },
});

}  // namespace
