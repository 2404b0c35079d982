// Fuzz target: image decoding through strata's loader (libvips behind it).
// Any bytes either decode into an image of a valid layout or fail with
// image_error; nothing else escapes, and a claimed size over the pixel limit
// is refused before decoding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "strata/image.hpp"

namespace {

[[noreturn]] void fail(const std::string& what) {
    fmt::print(stderr, "image_fuzz: {}\n", what);
    std::abort();
}

constexpr std::uint64_t pixel_limit = 1 << 22;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = ::memfd_create("image", MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size)) fail("cannot hold the input in a memfd");
    try {
        const auto picture = strata::read_image(fmt::format("/proc/self/fd/{}", fd), {.max_pixels = pixel_limit});
        const auto& layout = picture.layout();
        if (layout.width <= 0 || layout.height <= 0 || layout.bands < 1 || layout.bands > 4) fail("a bad layout");
        if (static_cast<std::uint64_t>(layout.width) * static_cast<std::uint64_t>(layout.height) > pixel_limit) {
            fail("an image over the pixel limit was decoded");
        }
        if (picture.pixels().size() < layout.bytes()) fail("fewer pixel bytes than the layout needs");
    } catch (const strata::image_error&) {
    }
    ::close(fd);
    return 0;
}
