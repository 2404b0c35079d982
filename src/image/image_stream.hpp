// Internal: an image file read top to bottom in pieces, and an image written
// while its rows are still being produced; convert_file overlaps the two.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "strata/detail/output_file.hpp"
#include "strata/image.hpp"
#include "strata/image_info.hpp"
#include "strata/pipeline.hpp"

namespace strata::detail {

class row_ring;

/// An image file opened for one top-to-bottom decode into shared memory.
/// Not thread-safe: one thread creates and uses it.
class image_reader {
public:
    /// Opens `path` (header only) and works out the layout it decodes to,
    /// for `chain` to run on: decoded smaller when the chain starts by
    /// shrinking and options.shrink_on_load allows it; refused (over_limit)
    /// when any step's output is over the limits. Throws image_error as
    /// read_image does. With `may_stream`, a file read top to bottom (see
    /// streams()) is held to the limits for streamed files.
    image_reader(const std::filesystem::path& path, const load_options& options, const filter_chain& chain,
                 bool may_stream = false);
    ~image_reader();
    image_reader(const image_reader&) = delete;
    image_reader& operator=(const image_reader&) = delete;

    const image_layout& layout() const noexcept;
    /// The file's metadata, as target() carries it.
    const std::shared_ptr<const image_metadata>& metadata() const noexcept;
    /// The image being decoded into: zeroed pixels, the file's metadata.
    /// Empty when the file streams (see read_into).
    const image& target() const noexcept;
    /// Decodes rows up to `y_end` (exclusive) into target(), from where the
    /// last call stopped. Throws image_error (a truncated file, say).
    void read_until(int y_end);
    /// From now on, read_until decodes into `ring` rather than target(),
    /// over the rows that went ring.rows() rows before (streams() only).
    void read_into(const row_ring& ring);
    int rows_read() const noexcept;
    /// The chain to run on target(): the one given, with a first step sized
    /// by a scale turned into pixels when the decode is reduced.
    const filter_chain& chain() const noexcept;
    /// How many times smaller than stored the image is decoded (1: full size).
    double shrink() const noexcept;
    /// True if `may_stream` was given and the decoder reads the file top to
    /// bottom holding only a few rows (baseline JPEG, non-interlaced PNG,
    /// TIFF, .v, PPM/PFM; one page, not turned upright), so that rows of
    /// target() can be discarded behind the reader.
    bool streams() const noexcept;
    /// Pages held one above another in target() (load_options::all_pages),
    /// each layout().height / pages() high; the chain runs on each alone.
    int pages() const noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

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
/// produced, as write_image would encode it whole. Throws image_error.
void write_rows_when_ready(const image_layout& layout, const std::shared_ptr<const image_metadata>& metadata,
                           const row_source& rows, const output_place& place, const write_options& options);

/// True if the saver for files named like `name` reads its image once, top
/// to bottom, holding only a few rows (JPEG, PNG, TIFF, .v, PPM/PFM).
bool saver_writes_in_order(const std::string& name);

}  // namespace strata::detail
