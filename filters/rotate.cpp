// rotate: a quarter, half or three quarters of a turn clockwise (cv::rotate).
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "rotate",
    .summary = "Turn clockwise by 90, 180 or 270 degrees (cv::rotate)",
    .example = "rotate=90",
    .kind = strata::filter_kind::geometry,
    .params = {{.name = "angle", .summary = "degrees clockwise", .default_value = 0, .choices = {"90", "180", "270"}}},
    .output_layout = [](const strata::image_layout& input, const strata::filter_args& args) {
        strata::image_layout output = input;
        if (args.choice("angle") != "180") std::swap(output.width, output.height);
        return output;
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const auto& angle = args.choice("angle");
        cv::rotate(input, output,
                   angle == "90" ? cv::ROTATE_90_CLOCKWISE : angle == "180" ? cv::ROTATE_180 : cv::ROTATE_90_COUNTERCLOCKWISE);
    },
});

}  // namespace
