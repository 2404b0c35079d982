// Metadata carried from a decoded file to the encoder, and the pixel
// formats strata and libvips share.
#include "metadata.hpp"

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
