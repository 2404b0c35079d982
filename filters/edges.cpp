// edges: Sobel gradient magnitude per band, sqrt(dx^2 + dy^2), saturated to the input type.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "edges",
    .summary = "Edges: Sobel gradient magnitude sqrt(dx^2 + dy^2) per band (cv::Sobel, reflected borders), saturated",
    .example = "edges=size=3",
    .kind = strata::filter_kind::neighbourhood,
    .params = {{.name = "size", .summary = "Sobel kernel size: 1, 3, 5 or 7", .default_value = 3, .minimum = 1, .maximum = 7, .integer = true}},
    .halo = [](const strata::filter_args& args) { return std::max(1, args.integer("size") / 2); },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const int size = args.integer("size");
        if (size % 2 == 0) throw strata::error("edges: size must be 1, 3, 5 or 7");
        cv::Mat dx;
        cv::Mat dy;
        cv::Sobel(input, dx, CV_32F, 1, 0, size);
        cv::Sobel(input, dy, CV_32F, 0, 1, size);
        cv::Mat magnitude = dx.mul(dx) + dy.mul(dy);
        cv::sqrt(magnitude, magnitude);
        magnitude.convertTo(output, input.depth());
    },
});

}  // namespace
