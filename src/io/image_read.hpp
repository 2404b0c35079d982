// Internal: an image file read top to bottom in pieces, into an image held
// whole or into a ring of rows (image_read.cpp).
#pragma once

#include <atomic>
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
    /// Only rows [0, rows) will be read (the rest are cropped away): the
    /// file is checked for changes once they are, rather than at its end.
    void read_no_further_than(int rows) noexcept;
    /// From now on, read_until stores the rows read so far in `rows_read`.
    void count_rows_in(std::atomic<int>* rows_read) noexcept;
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
    /// target() can be discarded behind the reader. The crops and flops the
    /// chain starts with are then the decoder's, and so is an area shrink
    /// after them (filter_spec::shrinks_by_area), made as rows come: layout()
    /// is what they leave, and chain() is the rest. A chain that goes on
    /// with any other geometry does not stream.
    bool streams() const noexcept;
    /// Pages held one above another in target() (load_options::all_pages),
    /// each layout().height / pages() high; the chain runs on each alone.
    int pages() const noexcept;

private:
    void read_shrunk_until(int y_end);

    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace strata::detail
