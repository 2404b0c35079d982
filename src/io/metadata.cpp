// Metadata carried from a decoded file to the encoder, and the pixel
// formats strata and libvips share.
#include "metadata.hpp"

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

namespace strata::detail {

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

}  // namespace

std::shared_ptr<image_metadata> keep_metadata(const vips::VImage& source) {
    auto metadata = std::make_shared<image_metadata>();
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

namespace {

std::uint32_t big_endian(const unsigned char* bytes) {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

}  // namespace

std::string icc_description(const void* profile, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(profile);
    if (size < 132 || std::memcmp(bytes + 36, "acsp", 4) != 0) return {};
    const std::uint32_t tags = big_endian(bytes + 128);
    for (std::uint32_t i = 0; i < tags && 132 + 12 * (i + 1) <= size; ++i) {
        const unsigned char* entry = bytes + 132 + 12 * i;
        if (std::memcmp(entry, "desc", 4) != 0) continue;
        const std::size_t offset = big_endian(entry + 4);
        const std::size_t length = big_endian(entry + 8);
        if (offset > size || length > size - offset || length < 12) return {};
        const unsigned char* tag = bytes + offset;
        std::string text;
        if (std::memcmp(tag, "desc", 4) == 0) {  // v2: a count, then ASCII with its NUL
            const std::size_t count = big_endian(tag + 8);
            if (count > length - 12) return {};
            text.assign(reinterpret_cast<const char*>(tag + 12), count);
        } else if (std::memcmp(tag, "mluc", 4) == 0 && length >= 28) {  // v4: UTF-16BE, the first record
            const std::size_t chars = big_endian(tag + 20);
            const std::size_t start = big_endian(tag + 24);
            if (start > length || chars > length - start) return {};
            for (std::size_t c = 0; c + 1 < chars; c += 2) {
                const unsigned unit = (unsigned{tag[start + c]} << 8) | tag[start + c + 1];
                text.push_back(unit < 0x80 ? static_cast<char>(unit) : '?');
            }
        }
        while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
        // Printed and written into JSON: printable ASCII only.
        for (char& c : text) {
            if (c < 0x20 || c > 0x7e) c = '?';
        }
        return text;
    }
    return {};
}

std::string icc_description(const vips::VImage& image) {
    if (vips_image_get_typeof(image.get_image(), VIPS_META_ICC_NAME) == 0) return {};
    const void* data = nullptr;
    std::size_t size = 0;
    if (vips_image_get_blob(image.get_image(), VIPS_META_ICC_NAME, &data, &size) != 0) {
        vips_error_clear();
        return {};
    }
    return icc_description(data, size);
}

void mark_upright(image_metadata& metadata) {
    VipsImage* carrier = metadata.carrier.get_image();
    vips_image_set_int(carrier, VIPS_META_ORIENTATION, 1);
    // Savers rebuild EXIF from the exif-* fields: the old tag must not win.
    (void)vips_image_remove(carrier, "exif-ifd0-Orientation");
}

void copy_metadata(const image_metadata& metadata, vips::VImage& target) {
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

VipsInterpretation interpretation_for(const image_layout& layout) {
    const bool grey = layout.bands <= 2;
    if (layout.type == sample_type::u16) return grey ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16;
    return grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
}


}  // namespace strata::detail
