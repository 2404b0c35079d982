// Small output files (a report) written whole or not at all.
#include "output_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "strata/detail/output_file.hpp"
#include "strata/error.hpp"

namespace strata::cli {

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
    write_file_atomically(detail::place_of(path), contents);
}

void write_file_atomically(const detail::output_place& place, std::string_view contents) {
    const std::filesystem::path& path = place.shown;
    detail::pending_file file(place, path.extension().string(), false);
    std::size_t written = 0;
    while (written < contents.size()) {
        const ssize_t n = ::write(file.fd(), contents.data() + written, contents.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw image_error(path, fmt::format("cannot write: {}", std::strerror(errno)));
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(file.fd()) != 0) throw image_error(path, fmt::format("cannot write: {}", std::strerror(errno)));
    file.publish(true);
}

}  // namespace strata::cli
