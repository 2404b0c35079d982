// Internal: an area_shrink made row by row as rows arrive (area_shrink.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <opencv2/core.hpp>

#include "strata/filter_spec.hpp"
#include "strata/image.hpp"

namespace strata::detail {

/// Makes what cv::resize(INTER_AREA) makes of a whole image, then the
/// rectangle an area_shrink keeps, from the image's rows given one at a time
/// from the top: the same pixels, holding only the rows one output row
/// needs. Integer factors on both axes go through cv::resize itself, a
/// block of rows at a time; other factors through the same weights and the
/// same float sums, in the same order, as OpenCV's area average.
class area_reducer {
public:
    /// For an image of `from` (both axes shrunk or kept, as area_shrink says).
    area_reducer(const image_layout& from, const area_shrink& shrink);

    /// The memory one would hold for an image of `from`: a block of rows for
    /// whole factors, a few rows of sums for others.
    static std::size_t held_bytes(const image_layout& from, const area_shrink& shrink);

    /// The rows it makes: the kept rectangle.
    const image_layout& layout() const noexcept { return kept_; }
    /// Kept rows made so far (rows [0, rows_made()) have been written).
    int rows_made() const noexcept { return made_; }
    /// Image rows taken so far.
    int rows_taken() const noexcept { return taken_; }
    /// Takes the image's next row; writes each kept row it completes, in
    /// order, at `target(y)` (y counted within the kept rectangle).
    void take(const std::byte* row, const std::function<std::byte*(int y)>& target);

private:
    // One weight of an area average: source sample index, target index.
    struct weight {
        int source;
        int target;
        float value;
    };

    void take_whole_factors(const cv::Mat& row, const std::function<std::byte*(int)>& target);
    void take_fractional(const cv::Mat& row, const std::function<std::byte*(int)>& target);
    bool kept(int y) const noexcept { return y >= shrink_.top && y < shrink_.top + shrink_.kept_height; }
    // Row `y` of the whole average, `averaged` in the working type, out.
    void finish(int y, const cv::Mat& averaged, const std::function<std::byte*(int)>& target);

    image_layout from_;
    area_shrink shrink_;
    image_layout kept_;
    int work_type_;  // OpenCV type of what is averaged
    int taken_ = 0;
    int made_ = 0;
    cv::Mat converted_;  // a row premultiplied
    cv::Mat averaged_;   // one row of the whole average
    // Whole factors: a block of `factor_y_` rows, averaged at once.
    bool whole_factors_ = false;
    int factor_y_ = 0;
    cv::Mat block_;
    int block_rows_ = 0;
    // Other factors: weights across (per sample) and down (per row).
    std::vector<weight> across_;
    std::vector<weight> down_;
    std::size_t next_down_ = 0;
    std::vector<float> row_sums_;  // one row weighted across
    std::vector<float> sums_;      // the output row being summed down
};

}  // namespace strata::detail
