// Internal: rows of an image held in a ring of shared memory, for streaming.
#pragma once

#include <cstddef>
#include <memory>

#include "strata/image.hpp"
#include "strata/shared_memory.hpp"

namespace strata::detail {

/// The rows of an image of `layout` (its full height), rows() of them at a
/// time: image row y starts at byte y x row_bytes modulo the ring's size
/// (whole pages), so writing row y writes over part of rows y - rows() and
/// y - rows() - 1, and no later row. The memfd is mapped twice back to back,
/// so any run of up to rows() rows is contiguous memory, wherever it wraps.
/// Copies share the mapping; it goes with the last of them.
class row_ring {
public:
    row_ring() = default;
    /// A new ring of at least `rows` rows (its size rounded up to whole
    /// pages). Throws std::system_error.
    row_ring(const image_layout& layout, int rows);
    /// A ring made by another process, from its memory and its layout.
    row_ring(shared_buffer memory, const image_layout& layout);

    const shared_buffer& memory() const noexcept { return memory_; }
    const image_layout& layout() const noexcept { return layout_; }
    int rows() const noexcept { return rows_; }
    /// Image row y and up to rows() - 1 after it, one after another.
    std::byte* row(int y) const noexcept;

private:
    struct mirror;
    shared_buffer memory_;
    image_layout layout_;
    int rows_ = 0;
    std::shared_ptr<mirror> mirror_;
};

/// A ring for `layout` of at least `rows` rows: the one given back last for
/// that layout if it is large enough (its pages are then already faulted in,
/// here and in the workers that keep it mapped), else a new one. Thread-safe.
row_ring reuse_ring(const image_layout& layout, int rows);
/// Keeps `ring` for reuse_ring: the last two given back are kept.
void give_back(row_ring ring);

/// A ring received by a worker, mapped once per process: a strip task gets
/// the same ring for every strip of an image, and a fresh mapping for each
/// would fault in every page again. Keeps the last two rings seen (an
/// input and an output).
row_ring received_ring(shared_buffer memory, const image_layout& layout);

}  // namespace strata::detail
