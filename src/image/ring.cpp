// row_ring: a memfd mapped twice back to back.
#include "ring.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <numeric>
#include <system_error>

namespace strata::detail {

namespace {

std::size_t page_size() {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return page;
}

// At least `rows` rows, and a whole number of pages.
int whole_pages_of_rows(std::size_t row_bytes, int rows) {
    const std::size_t step = page_size() / std::gcd(row_bytes, page_size());  // rows per whole pages
    return static_cast<int>((static_cast<std::size_t>(rows) + step - 1) / step * step);
}

}  // namespace

struct row_ring::mirror {
    std::byte* base = nullptr;
    std::size_t size = 0;  // of one mapping

    mirror(int fd, std::size_t bytes) : size(bytes) {
        // Reserve twice the size, then map the memfd over each half.
        void* where = ::mmap(nullptr, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (where == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of a row ring");
        base = static_cast<std::byte*>(where);
        for (int half = 0; half < 2; ++half) {
            if (::mmap(base + half * size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
                const int saved = errno;
                ::munmap(base, 2 * size);
                throw std::system_error(saved, std::generic_category(), "mmap of a row ring's half");
            }
        }
    }
    ~mirror() { ::munmap(base, 2 * size); }
    mirror(const mirror&) = delete;
    mirror& operator=(const mirror&) = delete;
};

row_ring::row_ring(const image_layout& layout, int rows)
    : row_ring(shared_buffer(static_cast<std::size_t>(whole_pages_of_rows(layout.row_bytes(), rows)) * layout.row_bytes(),
                             "strata-ring"),
               layout, whole_pages_of_rows(layout.row_bytes(), rows)) {}

row_ring::row_ring(shared_buffer memory, const image_layout& layout, int rows)
    : memory_(std::move(memory)), layout_(layout), rows_(rows) {
    const std::size_t bytes = static_cast<std::size_t>(rows) * layout.row_bytes();
    if (rows <= 0 || bytes != memory_.size() || bytes % page_size() != 0) {
        throw error("row ring: its memory is not whole pages of whole rows");
    }
    mirror_ = std::make_shared<mirror>(memory_.fd(), bytes);
}

std::byte* row_ring::base() const noexcept { return mirror_ ? mirror_->base : nullptr; }

std::byte* row_ring::row(int y) const noexcept {
    return base() + static_cast<std::size_t>(y % rows_) * layout_.row_bytes();
}

row_ring received_ring(shared_buffer memory, const image_layout& layout, int rows) {
    static std::mutex mutex;
    static row_ring kept[2];
    static int next = 0;
    struct stat received {};
    const bool known = ::fstat(memory.fd(), &received) == 0;
    std::lock_guard lock(mutex);
    for (const auto& ring : kept) {
        struct stat held {};
        if (known && ring.rows() == rows && ring.layout() == layout && ::fstat(ring.memory().fd(), &held) == 0 &&
            held.st_dev == received.st_dev && held.st_ino == received.st_ino) {
            return ring;  // the same memfd: alive, as `kept` holds it open
        }
    }
    kept[next] = row_ring(std::move(memory), layout, rows);
    const row_ring& made = kept[next];
    next = 1 - next;
    return made;
}

}  // namespace strata::detail
