// inspect and the loader lists: what strata info reports about a file.
#include "strata/image_info.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <vips/vips8>

#include "strata/error.hpp"
#include "loaders.hpp"
#include "metadata.hpp"
#include "vips_io.hpp"

namespace strata {

std::vector<std::string> untrusted_loaders() { return detail::loader_names(true); }
std::vector<std::string> all_loaders() { return detail::loader_names(false); }

image_info inspect(const std::filesystem::path& path, const load_options& options) {
    detail::chosen_loader loader;
    vips::VImage image = detail::open_image(path, options, true, &loader);

    image_info info;
    info.path = path;
    info.width = image.width();
    info.height = image.height();
    info.bands = image.bands();
    info.bits = static_cast<int>(vips_format_sizeof(image.format()) * 8);
    info.is_float = vips_band_format_isfloat(image.format()) != 0;
    info.has_alpha = vips_image_hasalpha(image.get_image()) != 0;
    info.interpretation = vips_enum_nick(VIPS_TYPE_INTERPRETATION, image.interpretation());
    info.loader = loader.nickname;
    info.name_matches_content = loader.name_matches;
    info.file_bytes = std::filesystem::file_size(path);
    info.pages = std::max(1, vips_image_get_n_pages(image.get_image()));
    info.orientation = vips_image_get_orientation(image.get_image());
    info.icc_profile = detail::icc_description(image);
    info.palette = vips_image_get_typeof(image.get_image(), "palette-bit-depth") != 0 ||
                   vips_image_get_typeof(image.get_image(), "palette") != 0;
    const detail::file_version version = detail::version_of(path);
    try {
        info.mean = image.avg();  // streams every pixel through the decoder
    } catch (const vips::VError& e) {
        throw image_error(path, detail::vips_failure_reason(e, path));
    }
    detail::check_unchanged(path, version);
    return info;
}

}  // namespace strata
