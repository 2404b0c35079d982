// threshold: each sample to full scale if above level x full scale, else 0 (cv::threshold).
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

double full_scale(int depth) { return depth == CV_8U ? 255.0 : depth == CV_16U ? 65535.0 : 1.0; }

STRATA_FILTER(strata::filter_spec{
    .name = "threshold",
    .summary = "Binary threshold per sample: full scale above level x full scale, else 0 (cv::threshold)",
    .example = "threshold=level=0.5",
    .kind = strata::filter_kind::point,
    .params = {{.name = "level", .summary = "fraction of full scale", .default_value = 0.5, .minimum = 0, .maximum = 1}},
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const double top = full_scale(input.depth());
        cv::threshold(input, output, args.number("level") * top, top, cv::THRESH_BINARY);
    },
});

}  // namespace
