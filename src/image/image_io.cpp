// read_image / write_image: libvips decode straight into shared memory, and
// atomic encode from it, carrying the source file's metadata.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <vips/vips8>

#include "strata/error.hpp"
#include "strata/image.hpp"
#include "vips_io.hpp"

namespace strata {

namespace detail {

/// A 1x1 libvips image that only carries the source file's metadata fields.
struct image_metadata {
    vips::VImage carrier;
    double xres = 1;
    double yres = 1;
};

}  // namespace detail

namespace {

// Fields that describe pixels or the loader, not the picture: never copied.
bool is_structural(const char* name) {
    static const std::set<std::string, std::less<>> structural{
        "width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset",
        "xres", "yres", "filename", "vips-loader", "vips-sequential", "bits-per-sample", "palette-bit-depth",
        "interlaced", "jpeg-multiscan", "jpeg-chroma-subsample", "png-comment-0-", "heif-primary", "n-pages",
        "page-height"};
    return structural.contains(std::string_view(name));
}

std::shared_ptr<detail::image_metadata> keep_metadata(const vips::VImage& source) {
    auto metadata = std::make_shared<detail::image_metadata>();
    metadata->carrier = vips::VImage::black(1, 1).copy_memory();
    metadata->xres = source.xres();
    metadata->yres = source.yres();
    gchar** names = vips_image_get_fields(source.get_image());
    for (gchar** name = names; *name != nullptr; ++name) {
        if (is_structural(*name)) continue;
        GValue value{};
        if (vips_image_get(source.get_image(), *name, &value) == 0) {
            vips_image_set(metadata->carrier.get_image(), *name, &value);
            g_value_unset(&value);
        }
    }
    g_strfreev(names);
    return metadata;
}

void copy_metadata(const detail::image_metadata& metadata, vips::VImage& target) {
    gchar** names = vips_image_get_fields(metadata.carrier.get_image());
    for (gchar** name = names; *name != nullptr; ++name) {
        if (is_structural(*name)) continue;
        GValue value{};
        if (vips_image_get(metadata.carrier.get_image(), *name, &value) == 0) {
            vips_image_set(target.get_image(), *name, &value);
            g_value_unset(&value);
        }
    }
    g_strfreev(names);
}

VipsBandFormat vips_format(sample_type type) {
    switch (type) {
    case sample_type::u8: return VIPS_FORMAT_UCHAR;
    case sample_type::u16: return VIPS_FORMAT_USHORT;
    case sample_type::f32: return VIPS_FORMAT_FLOAT;
    }
    return VIPS_FORMAT_UCHAR;
}

// The interpretation a saver should see for pixels of this layout.
VipsInterpretation interpretation_for(const image_layout& layout) {
    const bool grey = layout.bands <= 2;
    if (layout.type == sample_type::u16) return grey ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16;
    return grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
}

}  // namespace

image::image(image_layout layout) : image(layout, shared_buffer(layout.bytes(), "strata-image")) {}

image::image(image_layout layout, shared_buffer pixels) : layout_(layout), pixels_(std::move(pixels)) {
    if (pixels_.size() < layout_.bytes()) throw error("image: pixel buffer smaller than its layout");
}

image read_image(const std::filesystem::path& path, const load_options& options) {
    vips::VImage source = detail::open_image(path, options);
    try {
        if (options.autorotate && vips_image_get_orientation(source.get_image()) > 1) {
            // Turning needs random access: reopen without the sequential hint.
            source = detail::open_image(path, options, false).autorot();
        }
        vips::VImage pixels = source;
        if (pixels.coding() != VIPS_CODING_NONE) pixels = pixels.colourspace(VIPS_INTERPRETATION_sRGB);
        if (pixels.interpretation() == VIPS_INTERPRETATION_CMYK) pixels = pixels.colourspace(VIPS_INTERPRETATION_sRGB);
        if (pixels.bands() > 4) {
            throw image_error(path, fmt::format("has {} bands; strata handles 1 to 4 (grey, grey + alpha, RGB, RGBA)",
                                                pixels.bands()));
        }
        sample_type type = sample_type::f32;
        if (pixels.format() == VIPS_FORMAT_UCHAR) {
            type = sample_type::u8;
        } else if (pixels.format() == VIPS_FORMAT_USHORT) {
            type = sample_type::u16;
        } else {
            pixels = pixels.cast(VIPS_FORMAT_FLOAT);
        }
        const image_layout layout{pixels.width(), pixels.height(), pixels.bands(), type};
        image decoded(layout);
        // Decode straight into the shared pages.
        vips::VImage target = vips::VImage::new_from_memory(decoded.pixels().data(), layout.bytes(), layout.width,
                                                            layout.height, layout.bands, vips_format(type));
        pixels.write(target);
        decoded.set_metadata(keep_metadata(source));
        return decoded;
    } catch (const vips::VError& e) {
        throw image_error(path, detail::vips_failure_reason(e, path));
    }
}

bool can_write(const std::filesystem::path& path) {
    detail::ensure_vips();
    const bool found = vips_foreign_find_save(path.c_str()) != nullptr;
    vips_error_clear();
    return found;
}

void write_image(const image& picture, const std::filesystem::path& path, const write_options& options) {
    detail::ensure_vips();
    if (!can_write(path)) {
        throw image_error(path, fmt::format("no image format for the extension '{}' (try .jpg, .png, .webp, .tif)",
                                            path.extension().string()));
    }
    if (options.quality < 0 || options.quality > 100) {
        throw image_error(path, fmt::format("quality {} is out of range; accepted: 1 to 100 (0: the format's default)",
                                            options.quality));
    }
    const auto& layout = picture.layout();
    vips::VImage out = vips::VImage::new_from_memory(picture.pixels().data(), layout.bytes(), layout.width,
                                                     layout.height, layout.bands, vips_format(layout.type));
    out = out.copy(vips::VImage::option()->set("interpretation", interpretation_for(layout)));
    if (picture.metadata()) {
        out = out.copy(vips::VImage::option()->set("xres", picture.metadata()->xres)->set("yres", picture.metadata()->yres));
        if (!options.strip_metadata) copy_metadata(*picture.metadata(), out);
    }

    // A hidden temporary beside the destination, with its extension, so the
    // saver is the same; renamed over the destination only when complete.
    const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::string pattern = (folder / ("." + path.stem().string() + ".strata-XXXXXX" + path.extension().string())).string();
    const int fd = ::mkostemps(pattern.data(), static_cast<int>(path.extension().string().size()), O_CLOEXEC);
    if (fd < 0) throw image_error(path, fmt::format("cannot create a file in {}: {}", folder.string(), std::strerror(errno)));
    ::close(fd);
    const std::string temporary = pattern;
    std::vector<std::string> settings;
    if (options.quality > 0) settings.push_back(fmt::format("Q={}", options.quality));
    if (options.strip_metadata) settings.emplace_back("strip");
    const std::string target =
        settings.empty() ? temporary : fmt::format("{}[{}]", temporary, fmt::join(settings, ","));
    try {
        out.write_to_file(target.c_str());
    } catch (const vips::VError& e) {
        ::unlink(temporary.c_str());
        throw image_error(path, detail::vips_failure_reason(e, temporary));
    }
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::chmod(temporary.c_str(), 0666 & ~mask);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temporary.c_str());
        throw image_error(path, fmt::format("cannot create: {}", std::strerror(saved)));
    }
}

}  // namespace strata
