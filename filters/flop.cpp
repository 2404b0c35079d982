// flop: left to right (the first column becomes the last), cv::flip around the y axis.
#include <opencv2/core.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "flop",
    .summary = "Mirror left to right (cv::flip, code 1)",
    .example = "flop",
    .kind = strata::filter_kind::geometry,
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) { cv::flip(input, output, 1); },
});

}  // namespace
