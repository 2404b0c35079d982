// The filter SDK: what a filter declares (name, summary, parameters with
// defaults and ranges, kind, halo) and how it runs on rows of an image.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/image.hpp"

namespace strata {

/// How a filter relates output rows to input rows.
enum class filter_kind {
    point,          ///< each output pixel from the same input pixel (halo 0)
    neighbourhood,  ///< each output row from input rows within `halo` of it
    geometry,       ///< the output size or row order changes: runs on the whole image
};

/// One parameter a filter takes.
struct param_spec {
    std::string name;
    std::string summary;
    double default_value = 0;
    double minimum = 0;
    double maximum = 0;
    bool integer = false;               ///< only whole numbers
    std::vector<std::string> choices;   ///< when set, the value is one of these (stored as its index)
};

/// A filter's parameter values, in the order of its param_spec list.
class STRATA_API filter_args {
public:
    filter_args() = default;
    filter_args(const std::vector<param_spec>* specs, std::vector<double> values)
        : specs_(specs), values_(std::move(values)) {}
    /// The value of parameter `name` (usage error if the filter has no such parameter).
    double number(std::string_view name) const;
    int integer(std::string_view name) const { return static_cast<int>(number(name)); }
    /// For a choice parameter: the chosen name.
    const std::string& choice(std::string_view name) const;
    const std::vector<double>& values() const noexcept { return values_; }

private:
    std::size_t index(std::string_view name) const;
    const std::vector<param_spec>* specs_ = nullptr;
    std::vector<double> values_;
};

/// Everything a filter declares about itself, next to its code.
struct filter_spec {
    std::string name;
    std::string summary;
    std::string example;  ///< a chain using it, e.g. "gaussblur=sigma=2"
    filter_kind kind = filter_kind::point;
    std::vector<param_spec> params;
    /// Rows above and below an output row that it reads (neighbourhood filters).
    std::function<int(const filter_args&)> halo = [](const filter_args&) { return 0; };
    /// The layout it produces from `input` (point filters that change bands,
    /// geometry filters). Default: unchanged.
    std::function<image_layout(const image_layout& input, const filter_args&)> output_layout =
        [](const image_layout& input, const filter_args&) { return input; };
    /// Filters `input` into `output` (allocated by the filter, same rows as
    /// input unless geometry). For a neighbourhood filter, `input` is a band
    /// of rows whose first and last `halo` rows exist only as context, unless
    /// they are the image's own first or last rows.
    std::function<void(const cv::Mat& input, cv::Mat& output, const filter_args&)> apply;
};

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

/// Registers a filter; used through STRATA_FILTER.
STRATA_API bool register_filter(filter_spec spec);
/// The filter called `name`, or nullptr.
STRATA_API const filter_spec* find_filter(std::string_view name);
/// All filters, sorted by name.
STRATA_API std::vector<const filter_spec*> all_filters();

/// A wrong filter chain: what() names the problem and shows where it is.
class STRATA_API chain_error : public error {
public:
    chain_error(std::string message, std::string chain, std::size_t position);
    /// The message without the excerpt.
    const std::string& message() const noexcept { return message_; }
    const std::string& chain() const noexcept { return chain_; }
    /// Offset of the offending part in the chain text.
    std::size_t position() const noexcept { return position_; }

private:
    std::string message_, chain_;
    std::size_t position_;
};

}  // namespace strata

#define STRATA_FILTER_CONCAT_(a, b) a##b
#define STRATA_FILTER_CONCAT(a, b) STRATA_FILTER_CONCAT_(a, b)

/// In filters/<name>.cpp: STRATA_FILTER(make_spec()); registers at start-up.
#define STRATA_FILTER(...)                                                                 \
    [[maybe_unused]] static const bool STRATA_FILTER_CONCAT(strata_filter_, __LINE__) = \
        ::strata::register_filter(__VA_ARGS__)
