// Internal: what an image carries besides pixels (ICC profile, EXIF, XMP,
// resolution), kept from the file it was read from for the encoder.
#pragma once

#include <memory>
#include <string>

#include <vips/vips8>

#include "strata/image.hpp"

namespace strata::detail {

/// A 1x1 libvips image that only carries the source file's metadata fields.
struct image_metadata {
    vips::VImage carrier;
    double xres = 1;
    double yres = 1;
    std::string loader;  ///< the libvips loader that read the file
    std::string format;  ///< what that loader reads, e.g. "PNG"
    bool name_matches = true;  ///< the file's extension is one that loader reads
    int pages_in_file = 1;     ///< pages (frames) the file holds
    int page_height = 0;       ///< with several pages held one above another: the height of each; else 0
    bool pages_differ = false;  ///< its pages are not all one size, so only one was read
    std::string colour_note;    ///< what colour management did not do, and why
};

/// The fields of `source` that describe the picture (not its pixel layout
/// or loader).
std::shared_ptr<image_metadata> keep_metadata(const vips::VImage& source);
/// The description an ICC profile gives itself ("sRGB IEC61966-2.1",
/// "Display P3"), from its 'desc' tag (v2 text or v4 multi-language); empty
/// if it has none or the blob is not a profile.
std::string icc_description(const void* profile, std::size_t size);
/// The description of the profile `image` carries; empty if none.
std::string icc_description(const vips::VImage& image);

/// Records that the pixels were turned upright: orientation 1, in the
/// fields and in the EXIF block savers rebuild.
void mark_upright(image_metadata& metadata);
/// Sets those fields on `target`.
void copy_metadata(const image_metadata& metadata, vips::VImage& target);

/// The libvips band format strata's samples are.
VipsBandFormat vips_format(sample_type type);
/// The interpretation a saver should see for pixels of this layout.
VipsInterpretation interpretation_for(const image_layout& layout);

}  // namespace strata::detail
