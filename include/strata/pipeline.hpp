// Filter chains: parsing "gaussblur=sigma=3,sharpen=amount=1.5,invert",
// running a chain on an image strip by strip, on processes, threads or
// serially, and converting a file through a chain.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "strata/export.hpp"
#include "strata/filter_spec.hpp"
#include "strata/image.hpp"

namespace strata {

class pool;

/// One filter of a chain with its parameter values.
struct chain_step {
    const filter_spec* filter = nullptr;
    filter_args args;
    std::size_t position = 0;  ///< where the step starts in the chain text
};

/// A parsed chain.
struct filter_chain {
    std::string text;
    std::vector<chain_step> steps;
};

/// Parses a chain: steps separated by ',', each `name`, `name=value` (the
/// first parameter) or `name=param=value:param=value`. Empty (or blank)
/// text is the chain of no steps: images are decoded and encoded only.
/// Filters that take a size (thumbnail, resize) also accept it as their
/// first value: `256` (thumbnail: a 256x256 box), `512x384`, `512x`,
/// `x384` (fit inside), with `^` (cover the box), `!` (exactly that size)
/// or `>` (only shrink), and `50%` (a scale). Throws chain_error
/// naming the unknown filter (with the nearest names), or the filter, the
/// parameter and its accepted range, and pointing at the offending text.
STRATA_API filter_chain parse_chain(std::string_view text);

enum class backend { processes, threads, serial };

/// How far a convert_file has got, updated as it goes, for a display that
/// reads it on another thread (relaxed loads are enough). Counts are rows of
/// all the pages held; a file converted in a worker of its own (an untrusted
/// loader's) reports nothing.
struct conversion_progress {
    std::atomic<int> rows_in{0};        ///< rows to decode (0 until the header is read)
    std::atomic<int> rows_decoded{0};
    std::atomic<int> rows_out{0};       ///< rows to encode (0 until known)
    std::atomic<int> rows_written{0};   ///< rows the encoder has taken
    std::atomic<std::uint64_t> row_bytes_in{0};  ///< bytes of one decoded row
};

struct run_options {
    backend where = backend::processes;
    /// Workers for processes / threads; 0: one per hardware thread.
    unsigned workers = 0;
    /// Strips per stage; 0: up to four per worker, fewer when the rows the
    /// filters read around each strip would cost more than the strips save.
    unsigned strips = 0;
    /// backend::serial only: the input's pixels may be overwritten and handed
    /// back as the result, which saves a whole image of memory. Leave false
    /// when anything else still reads the input.
    bool reuse_input = false;
    /// convert_file only: where it reports how far it has got (null: nowhere).
    conversion_progress* progress = nullptr;
};

/// Runs `chain` on `input` and returns the result, bit-identical to running
/// it on the whole image in one process, whatever the backend and strips.
/// `workers` is used for backend::processes (one is made if null).
STRATA_API image run_chain(const filter_chain& chain, const image& input, const run_options& options = {},
                           pool* workers = nullptr);

/// What convert_file did.
struct conversion {
    image_layout layout;    ///< of the image written (of one page)
    std::string loader;     ///< the libvips loader that read the input, e.g. "jpegload"
    /// Set when the input's content is not what its extension says: "content
    /// is PNG (pngload); the name says .jpg".
    std::string content_note;
    double decoded = 0;     ///< seconds from the start until the last row was decoded
    double filtered = 0;    ///< ... until the last strip was filtered
    double written = 0;     ///< ... until the output file was complete
    /// How many times smaller than stored the input was decoded, for a chain
    /// that starts by shrinking (load_options::shrink_on_load); 1: full size.
    double load_shrink = 1;
    int pages_in = 1;   ///< pages (frames) the input file holds
    int pages = 1;      ///< pages written, each of `layout` (GIF, WebP and TIFF outputs hold them all)
    /// Streamed: decoded, filtered and encoded top to bottom, holding only
    /// the rows in flight (not the whole image), so memory did not grow with
    /// the image's height. Otherwise the image was held whole.
    bool streamed = false;
    auto fields() {
        return std::tie(layout, loader, content_note, decoded, filtered, written, load_shrink, pages_in, pages, streamed);
    }
};

/// Reads `input`, runs `chain` and writes `output`, with the three
/// overlapped: each strip starts as soon as the rows it reads are decoded,
/// and the encoder takes rows as soon as their strip is done. The file is
/// the one write_image(run_chain(chain, read_image(input))) would write, bit
/// for bit. Unless the file streams (below), backend::serial, and a chain
/// that starts with a geometry step, run the three one after another.
///
/// The file streams (conversion::streamed) when the chain has no geometry
/// step, the input is read top to bottom (baseline JPEG, non-interlaced PNG,
/// TIFF, .v, PPM/PFM; one page, not turned upright) and the output written
/// so (JPEG, PNG, TIFF, .v, PPM/PFM): strips of a few MB go to the workers
/// as their rows are decoded, the decoder stays a few strips ahead of the
/// encoder, and rows nobody reads any more are written over, so memory does
/// not depend on the image's height (on one thread too: backend::serial
/// then picks its own strips). The rings of the last two streamed images are
/// kept for the next image of the same size. Otherwise the image is held
/// whole. A file that only an untrusted loader
/// reads (one allowed by load_options::allowed_loaders) is converted whole
/// in one worker of `workers`, never decoded in this process, so a hostile
/// file cannot take it down and the pool's timeout bounds it. With
/// writing.strip_metadata, an RGB image with a profile other than sRGB is
/// converted to sRGB before the profile is dropped (as colour_profile
/// "srgb" would; grey images keep their values). Nothing
/// appears at `output` unless all of it succeeded. Throws image_error, or
/// the failure of a strip.
///
///     strata::convert_file("in.jpg", "out.jpg", strata::parse_chain("gaussblur=3"), {}, {.quality = 90});
STRATA_API conversion convert_file(const std::filesystem::path& input, const std::filesystem::path& output,
                                   const filter_chain& chain, const load_options& loading = {},
                                   const write_options& writing = {}, const run_options& options = {},
                                   pool* workers = nullptr);

/// Runs the steps [first, last) of `chain` on rows [y0, y1) of `input`,
/// writing those rows of `output` (the work of one strip; the pieces
/// OpenCV needs around the strip are read from `input`).
STRATA_API void run_strip(const filter_chain& chain, std::size_t first, std::size_t last, const image& input,
                          const image& output, int y0, int y1);

}  // namespace strata
