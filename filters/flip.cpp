// flip: top to bottom (the first row becomes the last), cv::flip around the x axis.
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "flip",
    .summary = "Mirror top to bottom (cv::flip, code 0)",
    .example = "flip",
    .kind = strata::filter_kind::geometry,
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) { cv::flip(input, output, 0); },
});

}  // namespace
