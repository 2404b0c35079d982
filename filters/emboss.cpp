// emboss: the 3x3 emboss kernel with cv::filter2D (reflected borders).
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "emboss",
    .summary = "Emboss: 3x3 kernel [-2 -1 0; -1 1 1; 0 1 2] with cv::filter2D, saturated",
    .example = "emboss",
    .kind = strata::filter_kind::neighbourhood,
    .halo = [](const strata::filter_args&) { return 1; },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) {
        const cv::Mat kernel = (cv::Mat_<float>(3, 3) << -2, -1, 0, -1, 1, 1, 0, 1, 2);
        cv::filter2D(input, output, -1, kernel);
    },
});

}  // namespace
