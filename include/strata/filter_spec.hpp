// What a filter declares about itself (name, summary, parameters with
// defaults and ranges, kind, halo) and the registry of filters. Free of
// OpenCV's headers: the filter's code works on cv::Mat, declared here only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/image.hpp"

namespace cv {
class Mat;
}  // namespace cv

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

/// A geometry step that is an area average of the whole image (cv::resize
/// with INTER_AREA, neither axis enlarged), then a rectangle of it kept:
/// each output row depends on a run of input rows only, so the step can be
/// made row by row as a file is read.
struct area_shrink {
    int width = 0;   ///< the size the whole image is averaged to
    int height = 0;
    int left = 0;    ///< the rectangle kept, within width x height
    int top = 0;
    int kept_width = 0;
    int kept_height = 0;
    bool premultiplied = false;  ///< averaged with colour weighted by alpha (see strata::premultiply)
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
    /// Filters `input` into `output` (same rows as input unless geometry).
    /// `output` may come already sized and typed as output_layout says, over
    /// memory the pipeline reuses; the filter writes into it or replaces it.
    /// `input` is read-only: it may be rows of the shared image that other
    /// strips read at the same time. For a neighbourhood filter, `input` is a
    /// band of rows whose first and last `halo` rows exist only as context,
    /// unless they are the image's own first or last rows.
    std::function<void(const cv::Mat& input, cv::Mat& output, const filter_args&)> apply;
    /// Checks relations between parameters when the chain is parsed (throw
    /// strata::error with the reason; parse_chain points it at the step).
    std::function<void(const filter_args&)> check;
    /// The first parameter, given without a name, may be a size as libvips
    /// and ImageMagick users type it (see parse_chain): the filter then has
    /// parameters width, height, fit and upscale (and scale for "50%").
    bool takes_size = false;
    /// A geometry filter that only shrinks or scales: its output can be made
    /// from a decode at reduced size (JPEG shrink-on-load, WebP scale), which
    /// convert_file uses when it is the chain's first step. Such a filter has
    /// the parameters of takes_size (width, height, fit, upscale, scale):
    /// on a reduced decode, a size given as a scale is set in pixels. With
    /// an `interpolation` other than "area", it is decoded at full size.
    bool shrinks_on_load = false;
    /// For a geometry filter: the area_shrink its output is for an `input`
    /// of this layout, or nothing when it is not one (it enlarges, say).
    /// What is one may stream row by row, giving the pixels apply gives.
    std::function<std::optional<area_shrink>(const image_layout& input, const filter_args&)> shrinks_by_area;
};

/// Registers a filter; used through STRATA_FILTER.
STRATA_API bool register_filter(filter_spec spec);
/// The filter called `name`, or nullptr.
STRATA_API const filter_spec* find_filter(std::string_view name);
/// All filters, sorted by name.
STRATA_API std::vector<const filter_spec*> all_filters();

}  // namespace strata
