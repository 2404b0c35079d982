// threshold: each sample to full scale if above level x full scale, else 0 (cv::threshold).
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"

namespace {

STRATA_FILTER(strata::filter_spec{
    .name = "threshold",
    .summary = "Binary threshold per sample: full scale above level x full scale, else 0 (cv::threshold)",
    .example = "threshold=level=0.5",
    .kind = strata::filter_kind::point,
    .params = {{.name = "level", .summary = "fraction of full scale", .default_value = 0.5, .minimum = 0, .maximum = 1}},
    .apply = [](const cv::Mat& input, cv::Mat& output, const strata::filter_args& args) {
        const double top = strata::full_scale(input.depth());
        cv::threshold(input, output, args.number("level") * top, top, cv::THRESH_BINARY);
    },
});

}  // namespace
