// shared_buffer on memfd_create, and the robust process-shared mutex cell.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include "strata/shared_memory.hpp"
#include "syscall.hpp"

namespace strata {

struct shared_buffer::mapping {
    int fd = -1;
    std::byte* data = nullptr;
    std::size_t size = 0;

    mapping(int owned_fd, std::size_t bytes) : fd(owned_fd), size(bytes) {
        if (size == 0) return;
        // A memfd sealed against writes (a large message) can only be mapped read-only.
        const int seals = ::fcntl(fd, F_GET_SEALS);
        const int protection = (seals > 0 && (seals & F_SEAL_WRITE) != 0) ? PROT_READ : PROT_READ | PROT_WRITE;
        void* where = ::mmap(nullptr, size, protection, MAP_SHARED, fd, 0);
        if (where == MAP_FAILED) {
            const int saved = errno;
            ::close(fd);
            throw std::system_error(saved, std::generic_category(), "mmap of a shared buffer");
        }
        data = static_cast<std::byte*>(where);
    }
    ~mapping() {
        if (data != nullptr) ::munmap(data, size);
        if (fd >= 0) ::close(fd);
    }
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
};

shared_buffer::shared_buffer(std::size_t bytes, std::string_view label) {
    const std::string name(label);
    const int fd = detail::sys::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "memfd_create for a shared buffer");
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        const int saved = errno;
        ::close(fd);
        throw std::system_error(saved, std::generic_category(),
                                "ftruncate of a shared buffer to " + std::to_string(bytes) + " bytes");
    }
    // Fixed size from now on: no peer can truncate it under a mapping (SIGBUS).
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    map_ = std::make_shared<mapping>(fd, bytes);
}

shared_buffer shared_buffer::adopt(int fd) {
    // A buffer someone else could shrink would crash us (SIGBUS) on access.
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
        ::close(fd);
        throw error("a received shared buffer is not a sealed memfd; refusing to map it");
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        const int saved = errno;
        ::close(fd);
        throw std::system_error(saved, std::generic_category(), "fstat of a received shared buffer");
    }
    return shared_buffer(std::make_shared<mapping>(fd, static_cast<std::size_t>(info.st_size)));
}

std::byte* shared_buffer::data() const noexcept { return map_ ? map_->data : nullptr; }
std::size_t shared_buffer::size() const noexcept { return map_ ? map_->size : 0; }
int shared_buffer::fd() const noexcept { return map_ ? map_->fd : -1; }

void shared_buffer::discard(std::size_t offset, std::size_t length) const {
    if (offset >= size()) return;
    length = std::min(length, size() - offset);
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t first = (offset + page - 1) / page * page;
    const std::size_t last = (offset + length) / page * page;
    if (last <= first) return;
    // A hole in the memfd frees its pages for every mapping at once.
    if (::fallocate(map_->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(first),
                    static_cast<off_t>(last - first)) != 0) {
        throw std::system_error(errno, std::generic_category(), "fallocate (punch hole) in a shared buffer");
    }
}

namespace detail {

static_assert(sizeof(pthread_mutex_t) <= shared_mutex_cell::size);

void shared_mutex_cell::initialise(void* cell) {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    const int result = pthread_mutex_init(static_cast<pthread_mutex_t*>(cell), &attributes);
    pthread_mutexattr_destroy(&attributes);
    if (result != 0) throw std::system_error(result, std::generic_category(), "pthread_mutex_init (process-shared)");
}

void shared_mutex_cell::lock(void* cell) {
    auto* mutex = static_cast<pthread_mutex_t*>(cell);
    const int result = pthread_mutex_lock(mutex);
    if (result == EOWNERDEAD) {
        pthread_mutex_consistent(mutex);  // the holder died; the value is as it left it
    } else if (result != 0) {
        throw std::system_error(result, std::generic_category(), "pthread_mutex_lock (shared_value)");
    }
}

void shared_mutex_cell::unlock(void* cell) noexcept { pthread_mutex_unlock(static_cast<pthread_mutex_t*>(cell)); }

}  // namespace detail

}  // namespace strata
