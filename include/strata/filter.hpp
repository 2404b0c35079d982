// The filter SDK: what a filter author includes in filters/<name>.cpp. Brings
// OpenCV's core header, the helpers filters share, and STRATA_FILTER.
#pragma once

#include <opencv2/core.hpp>

#include "strata/export.hpp"
#include "strata/filter_spec.hpp"
#include "strata/image.hpp"

namespace strata {

/// The largest sample value of an OpenCV depth: 255 (8-bit), 65535 (16-bit), 1.0 (float).
inline double full_scale(int depth) noexcept { return depth == CV_8U ? 255.0 : depth == CV_16U ? 65535.0 : 1.0; }

/// The radius of the kernel cv::GaussianBlur uses for `sigma` (its larger,
/// non-8-bit rule, so it covers every depth): the halo of a Gaussian.
inline int gaussian_radius(double sigma) noexcept { return (cvRound(sigma * 4 * 2 + 1) | 1) / 2; }

/// The pixels of `picture` as a cv::Mat header over its shared memory (no copy).
STRATA_API cv::Mat as_mat(const image& picture);

/// Copies the alpha band (the last of 2 or 4) of `input` into `output`: for
/// point filters that change colour only.
inline void keep_alpha(const cv::Mat& input, cv::Mat& output) {
    const int bands = input.channels();
    if (bands != 2 && bands != 4) return;
    const int alpha[] = {bands - 1, bands - 1};
    cv::mixChannels(&input, 1, &output, 1, alpha, 1);
}

}  // namespace strata

#define STRATA_FILTER_CONCAT_(a, b) a##b
#define STRATA_FILTER_CONCAT(a, b) STRATA_FILTER_CONCAT_(a, b)

/// In filters/<name>.cpp: STRATA_FILTER(make_spec()); registers at start-up.
#define STRATA_FILTER(...)                                                                 \
    [[maybe_unused]] static const bool STRATA_FILTER_CONCAT(strata_filter_, __LINE__) = \
        ::strata::register_filter(__VA_ARGS__)
