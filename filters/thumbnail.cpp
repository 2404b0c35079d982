// thumbnail: fit the image into a box keeping its aspect ratio, as
// vipsthumbnail does (same output size), with an exact area average
// (cv::resize INTER_AREA) over alpha-premultiplied pixels; optionally cover
// the box and crop it, at the centre or where the picture draws the eye.
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

bool cropping(const strata::filter_args& args) { return args.choice("crop") != "none"; }

// The size the image is resized to, before any crop.
cv::Size resized(int width, int height, const strata::filter_args& args) {
    const bool upscale = args.integer("upscale") != 0;
    if (const double scale = args.number("scale"); scale > 0) {
        const double s = upscale ? scale : std::min(scale, 1.0);
        return {std::max(1, static_cast<int>(width * s + 0.5)), std::max(1, static_cast<int>(height * s + 0.5))};
    }
    const strata::fit_mode fit = cropping(args) ? strata::fit_mode::outside : strata::fit_named(args.choice("fit"));
    return strata::fit_size(width, height, args.integer("width"), args.integer("height"), fit, upscale);
}

// The final size: the resized image, cut to the box when cropping.
cv::Size final_size(int width, int height, const strata::filter_args& args) {
    cv::Size size = resized(width, height, args);
    if (cropping(args)) {
        if (const int w = args.integer("width"); w > 0) size.width = std::min(size.width, w);
        if (const int h = args.integer("height"); h > 0) size.height = std::min(size.height, h);
    }
    return size;
}

// Area average when no axis grows, bicubic where one does; colour weighted
// by alpha when there is one, so that transparent pixels lend no colour to
// their neighbours (as libvips premultiplies before it shrinks).
void resample(const cv::Mat& input, cv::Mat& output, cv::Size size) {
    const int method = size.width <= input.cols && size.height <= input.rows ? cv::INTER_AREA : cv::INTER_CUBIC;
    const int bands = input.channels();
    if (bands != 2 && bands != 4) {
        cv::resize(input, output, size, 0, 0, method);
        return;
    }
    cv::Mat wide;
    strata::premultiply(input, wide);
    cv::Mat small;
    cv::resize(wide, small, size, 0, 0, method);
    strata::unpremultiply(small, output, input.depth());
}

// The top-left corner of a `box` crop of `image` that keeps what draws the
// eye, by libvips' attention rule done with OpenCV on a copy at most 256
// pixels across: edges (Laplacian of lightness), skin tones and saturated
// colour are added up, blurred, and the crop is centred on the peak.
cv::Point attention(const cv::Mat& image, cv::Size box) {
    const double reduce = std::min(1.0, 256.0 / std::max(image.cols, image.rows));
    cv::Mat small;
    const cv::Size reduced(std::max(1, static_cast<int>(std::lround(image.cols * reduce))),
                           std::max(1, static_cast<int>(std::lround(image.rows * reduce))));
    cv::resize(image, small, reduced, 0, 0, cv::INTER_AREA);
    if (small.depth() != CV_8U) small.convertTo(small, CV_8U, 255.0 / strata::full_scale(small.depth()));
    cv::Mat colour;  // RGB, as strata holds colour
    switch (small.channels()) {
    case 1: cv::cvtColor(small, colour, cv::COLOR_GRAY2RGB); break;
    case 2: cv::extractChannel(small, colour, 0); cv::cvtColor(colour, colour, cv::COLOR_GRAY2RGB); break;
    case 4: cv::cvtColor(small, colour, cv::COLOR_RGBA2RGB); break;
    default: colour = small; break;
    }
    cv::Mat lab;
    colour.convertTo(lab, CV_32F, 1.0 / 255);
    cv::cvtColor(lab, lab, cv::COLOR_RGB2Lab);  // L 0-100, a and b about -127 to 127
    std::vector<cv::Mat> l_a_b;
    cv::split(lab, l_a_b);
    cv::Mat edges;
    cv::Laplacian(l_a_b[0], edges, CV_32F, 3);
    edges = cv::abs(edges);
    cv::Mat chroma;
    cv::magnitude(l_a_b[1], l_a_b[2], chroma);
    cv::Mat saturated;
    cv::threshold(chroma, saturated, 60, 100, cv::THRESH_BINARY);
    // Skin: near the hue of skin in a and b, bright enough.
    cv::Mat da = l_a_b[1] - 20;
    cv::Mat db = l_a_b[2] - 25;
    cv::Mat distance;
    cv::magnitude(da, db, distance);
    cv::Mat skin = (distance < 20) & (l_a_b[0] > 20);
    skin.convertTo(skin, CV_32F, 100.0 / 255);
    cv::Mat interest = edges + saturated + skin;
    cv::GaussianBlur(interest, interest, cv::Size(), 10);
    cv::Point peak;
    cv::minMaxLoc(interest, nullptr, nullptr, nullptr, &peak);
    const int x = static_cast<int>(std::lround(peak.x * image.cols / static_cast<double>(small.cols))) - box.width / 2;
    const int y = static_cast<int>(std::lround(peak.y * image.rows / static_cast<double>(small.rows))) - box.height / 2;
    return {std::clamp(x, 0, image.cols - box.width), std::clamp(y, 0, image.rows - box.height)};
}

STRATA_FILTER(strata::filter_spec{
    .name = "thumbnail",
    .summary = "Fit inside width x height keeping the aspect ratio, never enlarging (vipsthumbnail's size and "
               "rounding; area average over premultiplied alpha); crop=centre|attention fills the box and crops. "
               "First value: 256, 512x384, 512x384^ (cover), 512x384! (exact), 512x, x384 or 50%",
    .example = "thumbnail=256",
    .kind = strata::filter_kind::geometry,
    .params = {{.name = "width", .summary = "box width in pixels (0: no limit; thumbnail=N sets width and height)",
                .default_value = 0, .minimum = 0, .maximum = 1e6, .integer = true},
               {.name = "height", .summary = "box height in pixels (0: no limit)", .default_value = 0, .minimum = 0,
                .maximum = 1e6, .integer = true},
               {.name = "crop", .summary = "fill the box, then cut it: at the centre, or centred on edges, skin "
                                           "tones and saturated colour (libvips' attention rule)",
                .default_value = 0, .choices = {"none", "centre", "attention"}},
               {.name = "fit", .summary = "inside the box, covering it (outside), or exactly it (fill)",
                .default_value = 0, .choices = {"inside", "outside", "fill"}},
               {.name = "upscale", .summary = "1: enlarge images smaller than the box", .default_value = 0,
                .minimum = 0, .maximum = 1, .integer = true},
               {.name = "scale", .summary = "a factor instead of a box (thumbnail=50% is 0.5; 0: use the box)",
                .default_value = 0, .minimum = 0, .maximum = 100}},
    .output_layout = [](const strata::image_layout& input, const strata::filter_args& args) {
        return strata::with_size(input, final_size(input.width, input.height, args));
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const cv::Size size = resized(input.cols, input.rows, args);
        const cv::Size box = final_size(input.cols, input.rows, args);
        if (box == size) {  // nothing to crop: straight into the output
            size == input.size() ? input.copyTo(output) : resample(input, output, size);
            return;
        }
        cv::Mat whole;
        if (size == input.size()) {
            whole = input;
        } else {
            resample(input, whole, size);
        }
        const cv::Point corner = args.choice("crop") == "attention"
                                     ? attention(whole, box)
                                     : cv::Point((whole.cols - box.width) / 2, (whole.rows - box.height) / 2);
        whole(cv::Rect(corner, box)).copyTo(output);
    },
    .check = [](const strata::filter_args& args) {
        const bool box = args.integer("width") > 0 || args.integer("height") > 0;
        const bool scale = args.number("scale") > 0;
        if (box == scale) {
            throw strata::error(box ? "give a box (width, height) or a scale, not both"
                                    : "give a size: thumbnail=256, thumbnail=512x384, width=W:height=H, or 50%");
        }
        if (scale && args.choice("crop") != "none") throw strata::error("crop needs a box (width and height), not a scale");
        if (args.number("scale") > 1 && args.integer("upscale") == 0) {
            throw strata::error(fmt::format("a scale of {} enlarges, and thumbnail never enlarges unless upscale=1",
                                            args.number("scale")));
        }
        if (args.choice("crop") != "none" && (args.integer("width") == 0 || args.integer("height") == 0)) {
            throw strata::error("crop needs both width and height");
        }
    },
    .takes_size = true,
    .shrinks_on_load = true,
    // An area average with the centre (or nothing) kept: row by row.
    .shrinks_by_area = [](const strata::image_layout& input,
                          const strata::filter_args& args) -> std::optional<strata::area_shrink> {
        const cv::Size size = resized(input.width, input.height, args);
        const cv::Size box = final_size(input.width, input.height, args);
        if (args.choice("crop") == "attention" || size.width > input.width || size.height > input.height) return {};
        const bool resampled = size != cv::Size(input.width, input.height);
        return strata::area_shrink{.width = size.width, .height = size.height,
                                   .left = (size.width - box.width) / 2, .top = (size.height - box.height) / 2,
                                   .kept_width = box.width, .kept_height = box.height,
                                   .premultiplied = resampled && (input.bands == 2 || input.bands == 4)};
    },
});

}  // namespace
