// Internal: an image written while its rows are still being produced, from an
// image held whole or from rows handed over one after another (image_write.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "strata/detail/output_file.hpp"
#include "strata/image.hpp"
#include "strata/pipeline.hpp"

namespace strata::detail {

/// Blocks until rows [top, bottom) of an image are ready; false if they
/// never will be (the encoder then fails and writes nothing).
using rows_ready = std::function<bool(int top, int bottom)>;

/// write_image, except that the encoder reads no row before `ready` said it
/// may, so it can run while the rows are being filled. Throws image_error.
void write_image_when_ready(const image& picture, const output_place& place, const write_options& options,
                            const rows_ready& ready);

/// The rows of an image produced elsewhere (a ring), as the encoder reads
/// them: each range once, in any order, from several threads at once.
struct row_source {
    rows_ready ready;
    /// Row y, from when `ready` said so until `taken` is told.
    std::function<const std::byte*(int y)> row;
    /// Rows [top, bottom) were copied into the encoder's own memory.
    std::function<void(int top, int bottom)> taken;
};

/// Encodes an image of `layout` (and metadata) from `rows` as it is
/// produced, as write_image would encode it whole, after the crops and
/// flops of `then` (steps that stream at an edge; see apply_edge_steps).
/// Throws image_error.
void write_rows_when_ready(const image_layout& layout, const std::shared_ptr<const image_metadata>& metadata,
                           const row_source& rows, const output_place& place, const write_options& options,
                           const filter_chain& then = {});

/// True if the saver for files named like `name` reads its image once, top
/// to bottom, holding only a few rows (JPEG, PNG, TIFF, .v, PPM/PFM).
bool saver_writes_in_order(const std::string& name);

}  // namespace strata::detail
