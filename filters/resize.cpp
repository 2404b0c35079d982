// resize: scale by a factor, or to a width and/or height (cv::resize).
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

// Width 0 or height 0: follow the other, keeping the aspect ratio; both 0: use scale.
cv::Size target(int width, int height, const strata::filter_args& args) {
    const int w = args.integer("width");
    const int h = args.integer("height");
    if (w == 0 && h == 0) {
        const double scale = args.number("scale");
        return {std::max(1, static_cast<int>(std::lround(width * scale))), std::max(1, static_cast<int>(std::lround(height * scale)))};
    }
    if (w == 0) return {std::max(1, static_cast<int>(std::lround(static_cast<double>(width) * h / height))), h};
    if (h == 0) return {w, std::max(1, static_cast<int>(std::lround(static_cast<double>(height) * w / width)))};
    return {w, h};
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
    .summary = "Resize by scale, or to width and/or height (0 follows the other, keeping the aspect ratio) with cv::resize",
    .example = "resize=scale=0.5",
    .kind = strata::filter_kind::geometry,
    .params = {{.name = "scale", .summary = "factor, when width and height are 0", .default_value = 1, .minimum = 0.001, .maximum = 100},
               {.name = "width", .summary = "in pixels (0: from height or scale)", .default_value = 0, .minimum = 0, .maximum = 1e6, .integer = true},
               {.name = "height", .summary = "in pixels (0: from width or scale)", .default_value = 0, .minimum = 0, .maximum = 1e6, .integer = true},
               {.name = "interpolation", .summary = "cv::resize interpolation; area is best for shrinking",
                .default_value = 0, .choices = {"area", "linear", "cubic", "lanczos", "nearest"}}},
    .output_layout = [](const strata::image_layout& input, const strata::filter_args& args) {
        const cv::Size size = target(input.width, input.height, args);
        strata::image_layout output = input;
        output.width = size.width;
        output.height = size.height;
        return output;
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        cv::resize(input, output, target(input.cols, input.rows, args), 0, 0, interpolation(args.choice("interpolation")));
    },
});

}  // namespace
