// Internal: how a chain splits into stages and a stage into strips, and the
// strip kernel (pipeline.cpp); shared by run_chain and convert_file.
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

/// The strips of a stage over `height` rows whose steps read `halo` rows
/// around each: options.strips, or as many as keep the workers busy without
/// the halos adding more work than the strips save (four per worker at most),
/// never more than the rows.
strip_plan plan_strips(int height, int halo, const run_options& options);

/// The strips of a stage streamed over an image of `layout`: as plan_strips,
/// or more, so that a strip is about 2 MB (at least 16 rows, and 4 halos
/// high, so that the rows read around it stay at most half its work);
/// options.strips if given.
strip_plan plan_stream_strips(const image_layout& layout, int halo, const run_options& options);

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

class row_ring;

/// Rows [y0, y1) of the whole chain (one stage) on an image streamed
/// through `input`, into `output`; both rings must still hold those rows
/// (and, in `input`, the rows the chain reads around them).
void run_ring_strip(const filter_chain& chain, const row_ring& input, const row_ring& output, int y0, int y1,
                    strip_scratch& scratch);

/// run_ring_strip on a worker process of `workers`.
future<void> submit_ring_strip(pool& workers, const filter_chain& chain, const row_ring& input, const row_ring& output,
                               int y0, int y1);

/// run_strip on a worker process of `workers`.
future<void> submit_strip(pool& workers, const filter_chain& chain, std::size_t first, std::size_t last,
                          const image& input, const image& output, int y0, int y1);

/// run_chain from step `first` on.
image run_steps(const filter_chain& chain, std::size_t first, const image& input, const run_options& options,
                pool* workers);

}  // namespace strata::detail
