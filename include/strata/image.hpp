// image: decoded pixels in shared memory (so worker processes can read and
// write them in place), read and written with libvips.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "strata/export.hpp"
#include "strata/image_info.hpp"
#include "strata/shared_memory.hpp"

namespace strata {

/// How one sample (one band of one pixel) is stored.
enum class sample_type : std::uint8_t { u8, u16, f32 };

/// Size and pixel format of an image: interleaved rows, `bands` samples per pixel.
struct image_layout {
    std::int32_t width = 0;
    std::int32_t height = 0;
    std::int32_t bands = 0;
    sample_type type = sample_type::u8;

    std::size_t sample_bytes() const noexcept { return type == sample_type::u8 ? 1 : type == sample_type::u16 ? 2 : 4; }
    std::size_t row_bytes() const noexcept {
        return static_cast<std::size_t>(width) * static_cast<std::size_t>(bands) * sample_bytes();
    }
    std::size_t bytes() const noexcept { return row_bytes() * static_cast<std::size_t>(height); }
    auto fields() { return std::tie(width, height, bands, type); }
    bool operator==(const image_layout&) const = default;
};

namespace detail {
/// What the encoder needs from the source file besides pixels (ICC profile,
/// EXIF, XMP, resolution). Opaque: it holds libvips state.
struct image_metadata;
}  // namespace detail

/// An image whose pixels live in a shared_buffer. Copies share the pixels.
class STRATA_API image {
public:
    image() = default;
    /// Zeroed pixels of the given layout.
    explicit image(image_layout layout);
    image(image_layout layout, shared_buffer pixels);

    const image_layout& layout() const noexcept { return layout_; }
    int width() const noexcept { return layout_.width; }
    int height() const noexcept { return layout_.height; }
    int bands() const noexcept { return layout_.bands; }
    sample_type type() const noexcept { return layout_.type; }
    bool empty() const noexcept { return layout_.bytes() == 0; }

    std::byte* row(int y) const noexcept { return pixels_.data() + static_cast<std::size_t>(y) * layout_.row_bytes(); }
    const shared_buffer& pixels() const noexcept { return pixels_; }

    /// Metadata carried from the file it was read from (empty if none).
    const std::shared_ptr<const detail::image_metadata>& metadata() const noexcept { return metadata_; }
    void set_metadata(std::shared_ptr<const detail::image_metadata> metadata) { metadata_ = std::move(metadata); }

private:
    image_layout layout_;
    shared_buffer pixels_;
    std::shared_ptr<const detail::image_metadata> metadata_;
};

/// Options for writing an image file.
struct write_options {
    /// Encoder quality 1-100 for lossy formats (JPEG, WebP, HEIF, lossy TIFF);
    /// 0 means the format's default.
    int quality = 0;
    /// Leave ICC profile, EXIF and XMP out of the output.
    bool strip_metadata = false;
    /// Options for the format's saver, as libvips names them: "name=value",
    /// or "name" alone for a flag, e.g. {"lossless", "effort=6"} for WebP or
    /// {"compression=lzw"} for TIFF. check_write_options' error names every
    /// option the saver accepts.
    std::vector<std::string> format_options;
    /// Replace a file already at the output path (atomically: readers see
    /// the old file or the new one). false: output_exists is thrown and the
    /// file that is there stays as it is.
    bool overwrite = true;
    auto fields() { return std::tie(quality, strip_metadata, format_options, overwrite); }
};

/// Decodes `path` completely into shared memory: 1 to 4 bands, 8- or 16-bit
/// (other sample formats become 32-bit float), alpha kept; EXIF orientation
/// applied unless options.autorotate is false. Throws image_error naming the
/// file and the reason (missing, not an image, truncated, over the pixel limit).
STRATA_API image read_image(const std::filesystem::path& path, const load_options& options = {});

/// Encodes `picture` to `path`, in the format its extension names, into a
/// file that has no name (or a hidden one) until it is complete, so `path`
/// is never seen half-written and nothing is left if encoding fails. Throws
/// image_error (unknown extension, unwritable folder), output_exists.
STRATA_API void write_image(const image& picture, const std::filesystem::path& path, const write_options& options = {});

/// Checks `options` against the saver for `path`'s extension without writing
/// anything: quality in range, every format option known to that saver and
/// its value valid. Throws usage_error naming the option and what is accepted.
STRATA_API void check_write_options(const std::filesystem::path& path, const write_options& options);

/// True if the installed libvips can write files with the extension of `path`.
STRATA_API bool can_write(const std::filesystem::path& path);

/// Starts libvips (loading its format modules) and OpenCV's parallel
/// runtime in this process, as the first read, write or filter would. Call
/// it before creating a pool that will convert images: the pool's workers
/// are forked from this process and start with both ready, instead of each
/// starting them on its first file (tens of milliseconds per worker). It
/// starts no thread, so a pool can still fork afterwards, and it leaves
/// OpenCV's thread count as it was.
STRATA_API void preload_libraries();

}  // namespace strata
