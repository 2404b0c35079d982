// What an image file holds, found by decoding it with libvips.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "strata/export.hpp"

namespace strata {

/// How much damage a decoder tolerates before it fails, as libvips' fail-on.
enum class fail_on {
    none,       ///< decode whatever can be decoded
    truncated,  ///< fail on a truncated file (default)
    error,      ///< fail on any decoder error
    warning,    ///< fail on anything the decoder warns about
};

/// Options for reading an image file.
struct load_options {
    fail_on fail = fail_on::truncated;
    /// Images with more pixels (width x height) than this are refused before
    /// decoding, as a guard against decompression bombs.
    std::uint64_t max_pixels = 268'402'689;  // libvips' default limit, 16383^2
    /// The pixel limit instead of max_pixels for a file convert_file
    /// streams (decoded, filtered and encoded top to bottom in memory that
    /// does not grow with its height; conversion::streamed). max_memory does
    /// not apply to such a file either. Default: none, as a streamed file
    /// costs time, not memory.
    std::uint64_t max_streamed_pixels = std::numeric_limits<std::uint64_t>::max();
    /// Turn the image upright as its EXIF orientation says (read_image only).
    bool autorotate = true;
    /// Images whose decoded pixels would take more bytes than this (width x
    /// height x bands x bytes per sample, as strata holds them) are refused
    /// before decoding. 0: no limit.
    std::uint64_t max_memory = 0;
    /// How max_memory was arrived at, for the message that refuses an
    /// image ("auto: half of the cgroup's 4.0 GiB, 2 files at once").
    std::string max_memory_origin;
    /// libvips loaders to use although libvips marks them unsafe for
    /// untrusted input (by nickname: "svgload", "magickload", "vipsload",
    /// ...); strata blocks those otherwise. Only for files you trust. A file
    /// whose content is not what its extension says is never read by one.
    std::vector<std::string> allowed_loaders;
    /// When a chain starts with a step that shrinks (thumbnail, resize),
    /// decode at reduced size where the format allows it (JPEG 1/2, 1/4 or
    /// 1/8, WebP scaled), leaving at least a factor 2 for the step itself,
    /// as vipsthumbnail does. false: always decode at full size.
    bool shrink_on_load = true;
    /// Colour: "" keeps RGB and grey images in the space their profile
    /// says; "srgb" converts RGB images whose embedded ICC profile is not
    /// sRGB (Display P3, Adobe RGB, ...) to sRGB (grey stays grey); a path to an .icc file converts
    /// to that profile. CMYK images are always converted (to sRGB unless a
    /// file is given), through their embedded profile or a built-in CMYK
    /// one. The output carries the profile converted to. 16-bit stays 16-bit.
    std::string colour_profile;
    /// The page (frame) read from a multi-page file, from 0; a file with
    /// fewer pages is an error naming how many it has.
    int page = 0;
    /// Read every page from `page` on (animated GIF and WebP, multi-page
    /// TIFF), as one image of the pages one above another, each of the
    /// first page's height. convert_file sets it when the output format
    /// holds pages (GIF, WebP, TIFF). Pages are never turned upright.
    bool all_pages = false;
    auto fields() {
        return std::tie(fail, max_pixels, max_streamed_pixels, autorotate, max_memory, max_memory_origin,
                        allowed_loaders, shrink_on_load, colour_profile, page, all_pages);
    }
};

/// Facts about one decoded image file.
struct image_info {
    std::filesystem::path path;
    std::string loader;          ///< libvips loader, e.g. "jpegload"
    /// False when the file's extension is not one its loader reads (a PNG
    /// named .jpg, say).
    bool name_matches_content = true;
    std::string interpretation;  ///< libvips interpretation, e.g. "srgb", "b-w"
    int width = 0;
    int height = 0;
    int bands = 0;
    int bits = 0;                ///< bits per sample: 8, 16, 32 or 64
    bool is_float = false;       ///< samples are floating point
    bool has_alpha = false;
    std::uintmax_t file_bytes = 0;
    double mean = 0;             ///< mean of every sample (of the first page), from a full decode
    int pages = 1;               ///< pages or frames in the file (multi-page TIFF, animated GIF/WebP)
    int orientation = 1;         ///< EXIF orientation, 1 (upright) to 8
    std::string icc_profile;     ///< the embedded ICC profile's description; empty if none
    bool palette = false;        ///< stored as palette (indexed) colour
};

/// The libvips loaders (by nickname) that strata blocks unless
/// load_options::allowed_loaders names them: those libvips marks unsafe for
/// untrusted input (ImageMagick, PDF, SVG, FITS, Matlab, ...).
STRATA_API std::vector<std::string> untrusted_loaders();

/// Every libvips file loader, by nickname.
STRATA_API std::vector<std::string> all_loaders();

/// Decodes the whole file at `path` and describes it. Decoding every pixel is
/// what finds a truncated or corrupt file, which the header alone would not.
/// Throws image_error naming the file and the reason. Thread-safe.
///
///     auto info = strata::inspect("photo.jpg");
///     fmt::print("{}x{} {} bands\n", info.width, info.height, info.bands);
STRATA_API image_info inspect(const std::filesystem::path& path,
                              const load_options& options = {});

}  // namespace strata
