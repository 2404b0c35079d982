// Opening and mapping the demos' input text.
#include "demo_text.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "demo.hpp"
#include "integer_input.hpp"
#include "strata/detail/mapped_files.hpp"

namespace strata::cli {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what, int code) {
    throw input_error(fmt::format("cannot read {}: {}", name, what.empty() ? std::strerror(code) : what));
}

// Copies everything `in` gives into a new memfd, sealed so that no process
// can change it under another's mapping.
file_descriptor copy_into_memory(int in, const std::string& name) {
    file_descriptor copy(::memfd_create("strata-demo-input", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!copy) throw std::system_error(errno, std::generic_category(), "memfd_create for " + name);
    std::vector<char> buffer(std::size_t{1} << 20);
    while (true) {
        const ssize_t got = ::read(in, buffer.data(), buffer.size());
        if (got == 0) break;
        if (got < 0) {
            if (errno == EINTR) continue;
            fail(name, "", errno);
        }
        for (ssize_t written = 0; written < got;) {
            const ssize_t n = ::write(copy.get(), buffer.data() + written, static_cast<std::size_t>(got - written));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::system_error(errno, std::generic_category(), "copying " + name + " into memory");
            written += n;
        }
    }
    ::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return copy;
}

std::uint64_t size_of(int fd, const std::string& name) {
    struct stat facts {};
    if (::fstat(fd, &facts) != 0) fail(name, "", errno);
    return static_cast<std::uint64_t>(facts.st_size);
}

}  // namespace

text_source open_text(const std::string& path) {
    text_source source;
    const bool standard_input = path.empty() || path == "-";
    source.name = standard_input ? "standard input" : path;
    const int fd = standard_input ? ::fcntl(0, F_DUPFD_CLOEXEC, 3) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(source.name, "", errno);
    file_descriptor opened(fd);
    struct stat facts {};
    if (::fstat(fd, &facts) != 0) fail(source.name, "", errno);
    if (S_ISDIR(facts.st_mode)) fail(source.name, "it is a folder", 0);
    // A regular file is mapped as it is (standard input too, when it was
    // redirected from one and nothing has read it yet).
    if (S_ISREG(facts.st_mode) && ::lseek(fd, 0, SEEK_CUR) == 0) {
        source.fd = std::move(opened);
    } else {
        const auto start = std::chrono::steady_clock::now();
        source.fd = copy_into_memory(fd, source.name);
        source.read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    source.size = size_of(source.fd.get(), source.name);
    return source;
}

void check_unchanged(const text_source& source) {
    if (size_of(source.fd.get(), source.name) != source.size) {
        throw input_error(fmt::format("{} changed while it was read (its size is no longer {} bytes)", source.name, source.size));
    }
}

mapped_text::mapped_text(const file_descriptor& fd, std::uint64_t size, std::uint64_t first, std::uint64_t last)
    : size_(static_cast<std::size_t>(size)) {
    if (size_ == 0) return;
    detail::guard_mapped_files();  // a file cut short under us reads as zeros, not SIGBUS
    void* where = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (where == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of the input text");
    data_ = static_cast<const char*>(where);
    // This process's part, mapped in one go rather than a fault at a time.
    map_pages(data_ + std::min<std::uint64_t>(first, size), data_ + std::min<std::uint64_t>(last, size), false);
}

mapped_text::~mapped_text() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace strata::cli
