// recognised_image and limit_codec_threads: the io interface batch uses.
#include "io.hpp"

#include <cstdint>
#include <limits>

#include <vips/vips8>

#include "loaders.hpp"
#include "vips_io.hpp"

namespace strata::detail {

bool recognised_image(const std::filesystem::path& path, const load_options& options) {
    return find_loader(path, options).has_value();
}

std::pair<int, int> image_size(const std::filesystem::path& path) {
    load_options unlimited;
    unlimited.max_pixels = std::numeric_limits<std::uint64_t>::max();
    const vips::VImage header = open_image(path, unlimited);
    return {header.width(), header.height()};
}

void limit_codec_threads(unsigned threads) {
    ensure_vips();
    vips_concurrency_set(static_cast<int>(threads));
}

}  // namespace strata::detail
