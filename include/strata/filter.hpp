// The filter SDK: what a filter author includes in filters/<name>.cpp. Brings
// OpenCV's core header, the helpers filters share, and STRATA_FILTER.
#pragma once

#include <algorithm>
#include <limits>
#include <string>

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

/// How an image is sized into a box, by the names sharp gives them.
enum class fit_mode {
    inside,   ///< as large as possible while inside the box, aspect kept
    outside,  ///< as small as possible while covering the box, aspect kept
    fill,     ///< exactly the box, aspect ignored
};

/// The fit_mode called `name` ("inside", "outside" or "fill").
inline fit_mode fit_named(const std::string& name) noexcept {
    return name == "outside" ? fit_mode::outside : name == "fill" ? fit_mode::fill : fit_mode::inside;
}

/// `layout` with another width and height: what a geometry filter that
/// resizes declares as its output.
inline image_layout with_size(image_layout layout, cv::Size size) noexcept {
    layout.width = size.width;
    layout.height = size.height;
    return layout;
}

/// The size a `width` x `height` image becomes in a `box_width` x
/// `box_height` box, with libvips' thumbnail rounding: one shrink factor per
/// axis (the same for both unless fill), never below 1 when `upscale` is
/// false, never an axis below one pixel, each side rounded to nearest. A
/// side of 0 has no limit: it follows the other side's factor.
inline cv::Size fit_size(int width, int height, int box_width, int box_height, fit_mode fit, bool upscale) noexcept {
    if (box_width <= 0 && box_height <= 0) return {width, height};
    double hshrink = box_width > 0 ? static_cast<double>(width) / box_width : 0;
    double vshrink = box_height > 0 ? static_cast<double>(height) / box_height : 0;
    if (box_width <= 0) {
        hshrink = vshrink;
    } else if (box_height <= 0) {
        vshrink = hshrink;
    } else if (fit != fit_mode::fill) {
        hshrink = vshrink = fit == fit_mode::inside ? std::max(hshrink, vshrink) : std::min(hshrink, vshrink);
    }
    if (!upscale) {
        hshrink = std::max(1.0, hshrink);
        vshrink = std::max(1.0, vshrink);
    }
    hshrink = std::min(hshrink, static_cast<double>(width));
    vshrink = std::min(vshrink, static_cast<double>(height));
    // Enlarging a thin image can ask for more than an int holds: such a side
    // is kept at the largest int, which every pixel limit then refuses.
    const auto side = [](double length) {
        return static_cast<int>(std::clamp(length + 0.5, 1.0, static_cast<double>(std::numeric_limits<int>::max())));
    };
    return {side(width / hshrink), side(height / vshrink)};
}

/// The OpenCV type of pixels laid out as `layout` (CV_8UC3, ...).
inline int cv_type(const image_layout& layout) noexcept {
    const int depth = layout.type == sample_type::u8 ? CV_8U : layout.type == sample_type::u16 ? CV_16U : CV_32F;
    return CV_MAKETYPE(depth, layout.bands);
}

/// The pixels of `picture` as a cv::Mat header over its shared memory (no copy).
STRATA_API cv::Mat as_mat(const image& picture);

/// `input` (2 or 4 bands: colour then alpha) as 32-bit float with each
/// colour band weighted by alpha (colour x alpha / full scale), alpha kept:
/// what averages of pixels are taken over, so that transparent pixels lend
/// no colour to their neighbours. Pixel by pixel, the same on any rows.
STRATA_API void premultiply(const cv::Mat& input, cv::Mat& output);
/// Undoes premultiply into `output` of OpenCV depth `depth` (rounded and
/// saturated); alpha 0 leaves colour 0.
STRATA_API void unpremultiply(const cv::Mat& input, cv::Mat& output, int depth);

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
