// resize: scale by a factor, or to a width and/or height (cv::resize).
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

// Width 0 or height 0: follow the other, keeping the aspect ratio; both 0:
// use scale. Both given: exactly that size (fit=fill), or the largest size
// inside the box / the smallest covering it (inside / outside).
cv::Size target(int width, int height, const strata::filter_args& args) {
    const int w = args.integer("width");
    const int h = args.integer("height");
    const bool upscale = args.integer("upscale") != 0;
    if (w == 0 && h == 0) {
        const double scale = upscale ? args.number("scale") : std::min(1.0, args.number("scale"));
        return {std::max(1, static_cast<int>(std::lround(width * scale))), std::max(1, static_cast<int>(std::lround(height * scale)))};
    }
    return strata::fit_size(width, height, w, h, strata::fit_named(args.choice("fit")), upscale);
}

int interpolation(const std::string& name) {
    if (name == "nearest") return cv::INTER_NEAREST;
    if (name == "linear") return cv::INTER_LINEAR;
    if (name == "cubic") return cv::INTER_CUBIC;
    if (name == "lanczos") return cv::INTER_LANCZOS4;
    return cv::INTER_AREA;
}

STRATA_FILTER(strata::filter_spec{
    .name = "resize",
    .summary = "Resize by scale, or to width and/or height (0 follows the other, keeping the aspect ratio) with "
               "cv::resize. First value: a scale (0.5), 50%, or a size: 512x384 (fit inside), 512x384^ (cover), "
               "512x384! (exact), 512x, x384, ending in > to only shrink",
    .example = "resize=scale=0.5",
    .kind = strata::filter_kind::geometry,
    .params = {{.name = "scale", .summary = "factor, when width and height are 0", .default_value = 1, .minimum = 0.001, .maximum = 100},
               {.name = "width", .summary = "in pixels (0: from height or scale)", .default_value = 0, .minimum = 0, .maximum = 1e6, .integer = true},
               {.name = "height", .summary = "in pixels (0: from width or scale)", .default_value = 0, .minimum = 0, .maximum = 1e6, .integer = true},
               {.name = "interpolation", .summary = "cv::resize interpolation; area is best for shrinking",
                .default_value = 0, .choices = {"area", "linear", "cubic", "lanczos", "nearest"}},
               {.name = "fit", .summary = "with width and height: exactly that size (fill), inside the box or covering it (outside), aspect kept",
                .default_value = 0, .choices = {"fill", "inside", "outside"}},
               {.name = "upscale", .summary = "0: never enlarge (as the > suffix)", .default_value = 1, .minimum = 0,
                .maximum = 1, .integer = true}},
    .output_layout = [](const strata::image_layout& input, const strata::filter_args& args) {
        return strata::with_size(input, target(input.width, input.height, args));
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        cv::resize(input, output, target(input.cols, input.rows, args), 0, 0, interpolation(args.choice("interpolation")));
    },
    .takes_size = true,
    .shrinks_on_load = true,
    .shrinks_by_area = [](const strata::image_layout& input,
                          const strata::filter_args& args) -> std::optional<strata::area_shrink> {
        const cv::Size size = target(input.width, input.height, args);
        if (args.choice("interpolation") != "area" || size.width > input.width || size.height > input.height) return {};
        return strata::area_shrink{.width = size.width, .height = size.height, .kept_width = size.width,
                                   .kept_height = size.height};
    },
});

}  // namespace
