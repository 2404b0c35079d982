// sepia: the classic sepia tone matrix on RGB (cv::transform); grey images are left as they are.
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "sepia",
    .summary = "Sepia tone: the usual 3x3 matrix on RGB (cv::transform, saturated); alpha kept; grey left as is",
    .example = "sepia",
    .kind = strata::filter_kind::point,
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) {
        const int bands = input.channels();
        if (bands < 3) {
            output = input.clone();
            return;
        }
        // Rows give output R, G, B from input R, G, B; a fourth band passes through.
        cv::Mat matrix = cv::Mat::zeros(bands, bands, CV_32F);
        const float tone[3][3] = {{0.393f, 0.769f, 0.189f}, {0.349f, 0.686f, 0.168f}, {0.272f, 0.534f, 0.131f}};
        for (int r = 0; r < 3; ++r) {
            for (int c = 0; c < 3; ++c) matrix.at<float>(r, c) = tone[r][c];
        }
        if (bands == 4) matrix.at<float>(3, 3) = 1;
        cv::transform(input, output, matrix);
    },
});

}  // namespace
