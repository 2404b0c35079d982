// Atomic small-file writes: temporary file in the same folder, then rename(2).
#include "output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace strata::cli {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
    const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    std::string hidden_name = path.filename().string();
    hidden_name.insert(hidden_name.begin(), '.');
    hidden_name.append(".XXXXXX");
    std::string temp = (folder / hidden_name).string();
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) fail("cannot create a file in", folder);

    auto abandon = [&](const char* what) {
        const int saved = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        errno = saved;
        fail(what, path);
    };
    // mkostemp creates 0600; give the file the mode open(2) would have.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    std::size_t written = 0;
    while (written < contents.size()) {
        const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) abandon("cannot write");
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) abandon("cannot flush");
    if (::close(fd) != 0) {
        ::unlink(temp.c_str());
        fail("cannot write", path);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(temp.c_str());
        errno = saved;
        fail("cannot create", path);
    }
}

}  // namespace strata::cli
