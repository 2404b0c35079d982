// crop: keep a rectangle of the image.
#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

cv::Rect rectangle(const strata::filter_args& args) {
    return {args.integer("x"), args.integer("y"), args.integer("width"), args.integer("height")};
}

void check_inside(const cv::Rect& r, int width, int height) {
    if (r.x + r.width > width || r.y + r.height > height) {
        throw strata::error(fmt::format("crop: the rectangle {}x{} at {},{} does not fit in the {}x{} image", r.width,
                                        r.height, r.x, r.y, width, height));
    }
}

STRATA_FILTER(strata::filter_spec{
    .name = "crop",
    .summary = "Keep the rectangle of width x height whose top-left corner is at x, y",
    .example = "crop=x=10:y=20:width=200:height=100",
    .kind = strata::filter_kind::geometry,
    .params = {{.name = "x", .summary = "left edge, in pixels", .default_value = 0, .minimum = 0, .maximum = 1e9, .integer = true},
               {.name = "y", .summary = "top edge, in pixels", .default_value = 0, .minimum = 0, .maximum = 1e9, .integer = true},
               {.name = "width", .summary = "in pixels", .default_value = 1, .minimum = 1, .maximum = 1e9, .integer = true},
               {.name = "height", .summary = "in pixels", .default_value = 1, .minimum = 1, .maximum = 1e9, .integer = true}},
    .output_layout = [](const strata::image_layout& input, const strata::filter_args& args) {
        const cv::Rect r = rectangle(args);
        check_inside(r, input.width, input.height);
        strata::image_layout output = input;
        output.width = r.width;
        output.height = r.height;
        return output;
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const cv::Rect r = rectangle(args);
        check_inside(r, input.cols, input.rows);
        input(r).copyTo(output);
    },
});

}  // namespace
