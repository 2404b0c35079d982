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
        const int bands = input.channels();
        if (bands == 2 || bands == 4) {
            const int alpha[] = {bands - 1, bands - 1};
            cv::mixChannels(&input, 1, &output, 1, alpha, 1);
        }
    },
});

}  // namespace
