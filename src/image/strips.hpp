// Internal: how a chain splits into stages and a stage into strips, shared by
// run_chain and convert_file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <opencv2/core.hpp>

#include "strata/future.hpp"
#include "strata/pipeline.hpp"

namespace strata::detail {

/// Workers a run uses: the option, or one per hardware thread.
unsigned worker_count(const run_options& options);

/// `count` strips of near-equal height over `height` rows.
struct strip_plan {
    int height = 0;
    int count = 1;
    int top(int strip) const noexcept {
        return static_cast<int>(static_cast<std::int64_t>(height) * strip / count);
    }
    int bottom(int strip) const noexcept { return top(strip + 1); }
};

/// The strips of a stage over `height` rows: options.strips, or four per
/// worker, never more than the rows.
strip_plan plan_strips(int height, const run_options& options);

/// True for a step that changes the image's size or row order.
bool is_geometry(const chain_step& step);
/// One past the last step of the stage that starts at `first`: a geometry
/// step is a stage of its own, other steps run together strip by strip.
std::size_t stage_end(const filter_chain& chain, std::size_t first);
/// Rows above and below a strip that steps [first, last) read.
int stage_halo(const filter_chain& chain, std::size_t first, std::size_t last);
/// The layout steps [first, last) turn `layout` into.
image_layout layout_after(const filter_chain& chain, std::size_t first, std::size_t last, image_layout layout);

/// Two blocks of memory a thread builds its strips in, reused from strip to
/// strip so that their pages are faulted in once, not once per strip. Holds
/// the two largest bands it was asked for until it goes.
class strip_scratch {
public:
    /// A matrix over block `which` (0 or 1), grown to fit if needed.
    cv::Mat matrix(int which, int rows, int cols, int type);

private:
    struct block {
        std::unique_ptr<std::byte[]> memory;
        std::size_t size = 0;
    };
    block blocks_[2];
};

/// run_strip, building the strip's bands in `scratch`.
void run_strip(const filter_chain& chain, std::size_t first, std::size_t last, const image& input,
               const image& output, int y0, int y1, strip_scratch& scratch);

/// run_strip on a worker process of `workers`.
future<void> submit_strip(pool& workers, const filter_chain& chain, std::size_t first, std::size_t last,
                          const image& input, const image& output, int y0, int y1);

/// run_chain from step `first` on.
image run_steps(const filter_chain& chain, std::size_t first, const image& input, const run_options& options,
                pool* workers);

}  // namespace strata::detail
