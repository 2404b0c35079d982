// row_ring: a memfd mapped twice back to back.
#include "ring.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <mutex>
#include <system_error>
#include <vector>

namespace strata::detail {

namespace {

std::size_t page_size() {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return page;
}

// At least `rows` rows, in whole pages.
std::size_t ring_bytes(std::size_t row_bytes, int rows) {
    const std::size_t bytes = static_cast<std::size_t>(std::max(rows, 1)) * std::max<std::size_t>(row_bytes, 1);
    return (bytes + page_size() - 1) / page_size() * page_size();
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
            // The first half's pages are faulted in at once (a ring is used
            // whole, and a fault apiece cost 0.04 s of a 4096x4096 blur);
            // the second half is touched only where rows wrap, and populating
            // it would count every page twice in the resident size.
            const int populate = half == 0 ? MAP_POPULATE : 0;
            if (::mmap(base + half * size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | populate, fd, 0) ==
                MAP_FAILED) {
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
    : row_ring(shared_buffer(ring_bytes(layout.row_bytes(), rows), "strata-ring"), layout) {}

row_ring::row_ring(shared_buffer memory, const image_layout& layout)
    : memory_(std::move(memory)), layout_(layout) {
    const std::size_t bytes = memory_.size();
    if (layout.row_bytes() == 0 || bytes < layout.row_bytes() || bytes % page_size() != 0 ||
        bytes / layout.row_bytes() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        throw error("row ring: its memory is not whole pages holding whole rows");
    }
    rows_ = static_cast<int>(bytes / layout.row_bytes());
    mirror_ = std::make_shared<mirror>(memory_.fd(), bytes);
}

std::byte* row_ring::row(int y) const noexcept {
    return mirror_->base + static_cast<std::size_t>(y) * layout_.row_bytes() % mirror_->size;
}

namespace {

std::mutex spare_mutex;
std::vector<row_ring> spare_rings;  // the last given back at the end

}  // namespace

row_ring reuse_ring(const image_layout& layout, int rows) {
    {
        std::lock_guard lock(spare_mutex);
        for (auto ring = spare_rings.begin(); ring != spare_rings.end(); ++ring) {
            if (ring->layout() == layout && ring->rows() >= rows) {
                row_ring found = std::move(*ring);
                spare_rings.erase(ring);
                return found;
            }
        }
    }
    return row_ring(layout, rows);
}

void give_back(row_ring ring) {
    std::lock_guard lock(spare_mutex);
    spare_rings.push_back(std::move(ring));
    if (spare_rings.size() > 2) spare_rings.erase(spare_rings.begin());
}

row_ring received_ring(shared_buffer memory, const image_layout& layout) {
    static std::mutex mutex;
    static row_ring kept[2];
    static int next = 0;
    struct stat received {};
    const bool known = ::fstat(memory.fd(), &received) == 0;
    std::lock_guard lock(mutex);
    for (const auto& ring : kept) {
        struct stat held {};
        if (known && ring.layout() == layout && ::fstat(ring.memory().fd(), &held) == 0 &&
            held.st_dev == received.st_dev && held.st_ino == received.st_ino) {
            return ring;  // the same memfd: alive, as `kept` holds it open
        }
    }
    kept[next] = row_ring(std::move(memory), layout);
    const row_ring& made = kept[next];
    next = 1 - next;
    return made;
}

}  // namespace strata::detail
