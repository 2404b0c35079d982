// Area averages made row by row, and the alpha weighting they are taken
// over. The fractional case follows OpenCV's INTER_AREA exactly: the same
// weights (one per source sample or row a target cell covers, partial at
// its ends), the same float sums in the same order, the same rounding; a
// test holds it to cv::resize on many sizes, depths and band counts.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "strata/error.hpp"
#include "strata/filter.hpp"
#include "area_shrink.hpp"

namespace strata {

namespace {

template <typename T>
void premultiply_row(const T* in, float* out, int pixels, int bands, float full) {
    for (int x = 0; x < pixels; ++x, in += bands, out += bands) {
        const float alpha = static_cast<float>(in[bands - 1]);
        for (int b = 0; b + 1 < bands; ++b) out[b] = static_cast<float>(in[b]) * alpha / full;
        out[bands - 1] = alpha;
    }
}

template <typename T>
void unpremultiply_row(const float* in, T* out, int pixels, int bands, float full) {
    for (int x = 0; x < pixels; ++x, in += bands, out += bands) {
        const float alpha = in[bands - 1];
        for (int b = 0; b + 1 < bands; ++b) out[b] = cv::saturate_cast<T>(alpha > 0 ? in[b] * full / alpha : 0.0f);
        out[bands - 1] = cv::saturate_cast<T>(alpha);
    }
}

void check_alpha_bands(const char* what, int bands) {
    if (bands != 2 && bands != 4) {
        throw usage_error(fmt::format("{}: takes 2 or 4 bands (colour then alpha), not {}", what, bands));
    }
}

}  // namespace

void premultiply(const cv::Mat& input, cv::Mat& output) {
    const int bands = input.channels();
    check_alpha_bands("premultiply", bands);
    output.create(input.size(), CV_MAKETYPE(CV_32F, bands));
    const auto full = static_cast<float>(full_scale(input.depth()));
    for (int y = 0; y < input.rows; ++y) {
        auto* out = output.ptr<float>(y);
        switch (input.depth()) {
        case CV_8U: premultiply_row(input.ptr<std::uint8_t>(y), out, input.cols, bands, full); break;
        case CV_16U: premultiply_row(input.ptr<std::uint16_t>(y), out, input.cols, bands, full); break;
        case CV_32F: premultiply_row(input.ptr<float>(y), out, input.cols, bands, full); break;
        default: throw usage_error("premultiply: takes 8-bit, 16-bit or float samples");
        }
    }
}

void unpremultiply(const cv::Mat& input, cv::Mat& output, int depth) {
    const int bands = input.channels();
    check_alpha_bands("unpremultiply", bands);
    if (input.depth() != CV_32F) throw usage_error("unpremultiply: takes float samples (what premultiply makes)");
    output.create(input.size(), CV_MAKETYPE(depth, bands));
    const auto full = static_cast<float>(full_scale(depth));
    for (int y = 0; y < input.rows; ++y) {
        const auto* in = input.ptr<float>(y);
        switch (depth) {
        case CV_8U: unpremultiply_row(in, output.ptr<std::uint8_t>(y), input.cols, bands, full); break;
        case CV_16U: unpremultiply_row(in, output.ptr<std::uint16_t>(y), input.cols, bands, full); break;
        case CV_32F: unpremultiply_row(in, output.ptr<float>(y), input.cols, bands, full); break;
        default: throw usage_error("unpremultiply: makes 8-bit, 16-bit or float samples");
        }
    }
}

namespace detail {

namespace {

// The weights of an area average of `source` samples into `target` cells
// each `scale` samples wide (the last one possibly narrower), `bands`
// interleaved: for each cell, the sample partly inside at its start, the
// samples wholly inside, the sample partly inside at its end, each weighted
// by the share of the cell it covers. Tiny slivers (under 1/1000 of a
// sample) are left out.
template <typename Weight>
std::vector<Weight> area_weights(int source, int target, int bands, double scale) {
    std::vector<Weight> weights;
    weights.reserve(static_cast<std::size_t>(source) * 2);
    for (int cell = 0; cell < target; ++cell) {
        const double start = cell * scale;
        const double end = start + scale;
        const double width = std::min(scale, source - start);
        const int last = std::min(cvFloor(end), source - 1);
        const int first = std::min(cvCeil(start), last);
        if (first - start > 1e-3) {
            weights.push_back({(first - 1) * bands, cell * bands, static_cast<float>((first - start) / width)});
        }
        for (int s = first; s < last; ++s) weights.push_back({s * bands, cell * bands, static_cast<float>(1.0 / width)});
        if (end - last > 1e-3) {
            weights.push_back({last * bands, cell * bands,
                               static_cast<float>(std::min(std::min(end - last, 1.0), width) / width)});
        }
    }
    return weights;
}

// `sums` (zeroed first): `row` averaged across by `weights`.
template <typename T, typename Weight>
void weigh_across(const T* row, const std::vector<Weight>& weights, int bands, std::vector<float>& sums) {
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (const Weight& w : weights) {
        const T* in = row + w.source;
        float* out = sums.data() + w.target;
        for (int b = 0; b < bands; ++b) out[b] += in[b] * w.value;
    }
}

template <typename T>
void round_row(const std::vector<float>& sums, T* out) {
    for (std::size_t i = 0; i < sums.size(); ++i) out[i] = cv::saturate_cast<T>(sums[i]);
}

// The scale OpenCV derives from the two sizes: the reciprocal of their ratio.
double scale_between(int from, int to) { return 1.0 / (static_cast<double>(to) / from); }

// The factor down when both scales are whole numbers (OpenCV's fast area
// average), else 0.
int whole_factor_down(const image_layout& from, const area_shrink& shrink) {
    const double scale_x = scale_between(from.width, shrink.width);
    const double scale_y = scale_between(from.height, shrink.height);
    const int whole_x = cv::saturate_cast<int>(scale_x);
    const int whole_y = cv::saturate_cast<int>(scale_y);
    return std::abs(scale_x - whole_x) < DBL_EPSILON && std::abs(scale_y - whole_y) < DBL_EPSILON ? whole_y : 0;
}

}  // namespace

std::size_t area_reducer::held_bytes(const image_layout& from, const area_shrink& shrink) {
    image_layout work = from;
    if (shrink.premultiplied) work.type = sample_type::f32;
    const std::size_t sums = 2 * sizeof(float) * static_cast<std::size_t>(shrink.width) * static_cast<std::size_t>(from.bands);
    return work.row_bytes() * static_cast<std::size_t>(std::max(1, whole_factor_down(from, shrink)) + 1) + sums;
}

area_reducer::area_reducer(const image_layout& from, const area_shrink& shrink)
    : from_(from), shrink_(shrink),
      kept_{shrink.kept_width, shrink.kept_height, from.bands, from.type} {
    if (shrink.width < 1 || shrink.height < 1 || shrink.width > from.width || shrink.height > from.height ||
        shrink.left < 0 || shrink.top < 0 || shrink.kept_width < 1 || shrink.kept_height < 1 ||
        shrink.left + shrink.kept_width > shrink.width || shrink.top + shrink.kept_height > shrink.height) {
        throw usage_error(fmt::format("area_reducer: {}x{} kept at {},{} of {}x{} is no area shrink of {}x{}",
                                      shrink.kept_width, shrink.kept_height, shrink.left, shrink.top, shrink.width,
                                      shrink.height, from.width, from.height));
    }
    if (shrink.premultiplied) check_alpha_bands("area_reducer", from.bands);
    image_layout work = from;
    if (shrink.premultiplied) work.type = sample_type::f32;
    work_type_ = cv_type(work);
    averaged_.create(1, shrink.width, work_type_);
    factor_y_ = whole_factor_down(from, shrink);
    whole_factors_ = factor_y_ > 0;
    if (whole_factors_) {
        block_.create(factor_y_, from.width, work_type_);
        return;
    }
    across_ = area_weights<weight>(from.width, shrink.width, from.bands, scale_between(from.width, shrink.width));
    down_ = area_weights<weight>(from.height, shrink.height, 1, scale_between(from.height, shrink.height));
    row_sums_.resize(static_cast<std::size_t>(shrink.width) * static_cast<std::size_t>(from.bands));
    sums_.resize(row_sums_.size());
}

void area_reducer::take(const std::byte* row, const std::function<std::byte*(int y)>& target) {
    if (taken_ >= from_.height) throw usage_error("area_reducer: given more rows than the image has");
    cv::Mat given(1, from_.width, cv_type(from_), const_cast<std::byte*>(row));
    if (shrink_.premultiplied) {
        premultiply(given, converted_);
        given = converted_;
    }
    whole_factors_ ? take_whole_factors(given, target) : take_fractional(given, target);
    ++taken_;
}

void area_reducer::take_whole_factors(const cv::Mat& row, const std::function<std::byte*(int)>& target) {
    const int y = taken_ / factor_y_;
    if (kept(y)) row.copyTo(block_.row(block_rows_));
    if (++block_rows_ < factor_y_) return;
    block_rows_ = 0;
    if (!kept(y)) return;
    // The block's rows, averaged by cv::resize as the whole image's are: the
    // same factors, the same columns, so the same code and rounding.
    cv::resize(block_, averaged_, averaged_.size(), 0, 0, cv::INTER_AREA);
    finish(y, averaged_, target);
}

void area_reducer::take_fractional(const cv::Mat& row, const std::function<std::byte*(int)>& target) {
    // The weights down that use this row: one or two target rows.
    std::size_t end = next_down_;
    bool needed = false;
    for (; end < down_.size() && down_[end].source == taken_; ++end) {
        if (kept(down_[end].target)) needed = true;
    }
    if (needed) {
        switch (row.depth()) {
        case CV_8U: weigh_across(row.ptr<std::uint8_t>(), across_, from_.bands, row_sums_); break;
        case CV_16U: weigh_across(row.ptr<std::uint16_t>(), across_, from_.bands, row_sums_); break;
        default: weigh_across(row.ptr<float>(), across_, from_.bands, row_sums_); break;
        }
    }
    for (; next_down_ < end; ++next_down_) {
        const weight& w = down_[next_down_];
        if (!kept(w.target)) continue;
        const bool first = next_down_ == 0 || down_[next_down_ - 1].target != w.target;
        for (std::size_t i = 0; i < sums_.size(); ++i) {
            sums_[i] = first ? w.value * row_sums_[i] : sums_[i] + w.value * row_sums_[i];
        }
        const bool last = next_down_ + 1 == down_.size() || down_[next_down_ + 1].target != w.target;
        if (!last) continue;
        switch (averaged_.depth()) {
        case CV_8U: round_row(sums_, averaged_.ptr<std::uint8_t>()); break;
        case CV_16U: round_row(sums_, averaged_.ptr<std::uint16_t>()); break;
        default: round_row(sums_, averaged_.ptr<float>()); break;
        }
        finish(w.target, averaged_, target);
    }
}

void area_reducer::finish(int y, const cv::Mat& averaged, const std::function<std::byte*(int)>& target) {
    const cv::Mat kept_part = averaged.colRange(shrink_.left, shrink_.left + shrink_.kept_width);
    std::byte* out = target(y - shrink_.top);
    if (shrink_.premultiplied) {
        cv::Mat into(1, shrink_.kept_width, cv_type(kept_), out);
        unpremultiply(kept_part, into, into.depth());
    } else {
        std::memcpy(out, kept_part.ptr(), kept_.row_bytes());
    }
    ++made_;
}

}  // namespace detail

}  // namespace strata
