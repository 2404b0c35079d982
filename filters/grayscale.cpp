// grayscale: RGB to luma with cv::cvtColor (0.299 R + 0.587 G + 0.114 B); alpha kept.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "grayscale",
    .summary = "RGB to grey (cv::cvtColor RGB2GRAY: 0.299 R + 0.587 G + 0.114 B); RGBA becomes grey + alpha",
    .example = "grayscale",
    .kind = strata::filter_kind::point,
    .output_layout = [](const strata::image_layout& input, const strata::filter_args&) {
        strata::image_layout output = input;
        if (input.bands >= 3) output.bands = input.bands - 2;
        return output;
    },
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args&) {
        if (input.channels() < 3) {
            output = input.clone();
            return;
        }
        if (input.channels() == 3) {
            cv::cvtColor(input, output, cv::COLOR_RGB2GRAY);
            return;
        }
        cv::Mat grey;
        cv::cvtColor(input, grey, cv::COLOR_RGBA2GRAY);
        output.create(input.rows, input.cols, CV_MAKETYPE(input.depth(), 2));
        const cv::Mat sources[] = {grey, input};
        const int pairs[] = {0, 0, 4, 1};  // grey -> 0, input alpha (channel 3 of input = index 1 + 3) -> 1
        cv::mixChannels(sources, 2, &output, 1, pairs, 2);
    },
});

}  // namespace
