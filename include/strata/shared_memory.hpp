// Memory shared between processes: shared_buffer (memfd), shared_array<T>, shared_value<T>.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>

#include "strata/error.hpp"
#include "strata/export.hpp"

namespace strata {

/// A block of memory that several processes map at once. It is an anonymous
/// memfd: it has no name under /dev/shm, so nothing is left behind when the
/// last process holding it exits, even after SIGKILL. Its size is fixed and
/// sealed at creation, so no process can shrink it under another's mapping.
///
/// Copies share the same memory (like a shared_ptr). Passed as a task
/// argument or result, it travels by descriptor: the receiver maps the same
/// pages, and no byte is copied.
///
///     strata::shared_buffer numbers(1 << 20);
///     auto values = numbers.as<std::int64_t>();   // span over the shared pages
class STRATA_API shared_buffer {
public:
    /// An empty buffer (size 0, no descriptor).
    shared_buffer() = default;
    /// Creates `bytes` bytes of zeroed shared memory. `label` shows in
    /// /proc/PID/fd. Throws std::system_error if the kernel refuses.
    explicit shared_buffer(std::size_t bytes, std::string_view label = "strata");

    /// Maps the memfd behind `fd`, taking ownership of the descriptor.
    static shared_buffer adopt(int fd);

    std::byte* data() const noexcept;
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    /// The memfd, owned by the buffer (-1 when empty).
    int fd() const noexcept;

    /// Gives the whole pages inside bytes [offset, offset + length) back to
    /// the system, in every process that maps the buffer; they read as zeros
    /// afterwards. For data nobody will read again: a finished part of an
    /// image, say. Thread-safe. Throws std::system_error.
    void discard(std::size_t offset, std::size_t length) const;

    /// The buffer seen as elements of T (size() / sizeof(T) of them).
    template <class T>
        requires std::is_trivially_copyable_v<T>
    std::span<T> as() const noexcept {
        return {reinterpret_cast<T*>(data()), size() / sizeof(T)};
    }

private:
    struct mapping;
    explicit shared_buffer(std::shared_ptr<mapping> map) : map_(std::move(map)) {}
    std::shared_ptr<mapping> map_;
};

/// `count` elements of T in shared memory, zero-initialised. Travels by
/// descriptor like shared_buffer.
template <class T>
    requires std::is_trivially_copyable_v<T>
class shared_array {
public:
    shared_array() = default;
    explicit shared_array(std::size_t count) : buffer_(count * sizeof(T), "strata-array") {}
    /// Views an existing buffer as an array (its size must be a multiple of sizeof(T)).
    explicit shared_array(shared_buffer buffer) : buffer_(std::move(buffer)) {
        if (buffer_.size() % sizeof(T) != 0) throw error("shared_array: buffer size is not a multiple of the element size");
    }

    T* data() const noexcept { return reinterpret_cast<T*>(buffer_.data()); }
    std::size_t size() const noexcept { return buffer_.size() / sizeof(T); }
    T& operator[](std::size_t i) const noexcept { return data()[i]; }
    T* begin() const noexcept { return data(); }
    T* end() const noexcept { return data() + size(); }
    std::span<T> span() const noexcept { return {data(), size()}; }
    std::span<T> subspan(std::size_t offset, std::size_t count) const { return span().subspan(offset, count); }
    const shared_buffer& buffer() const noexcept { return buffer_; }

private:
    shared_buffer buffer_;
};

namespace detail {
/// A process-shared, robust mutex living in shared memory.
class STRATA_API shared_mutex_cell {
public:
    static void initialise(void* cell);
    static void lock(void* cell);
    static void unlock(void* cell) noexcept;
    static constexpr std::size_t size = 64;  // >= sizeof(pthread_mutex_t), one cache line
};
}  // namespace detail

/// One T in shared memory with a lock that works across processes (a robust
/// process-shared mutex: if a holder dies, the next locker still gets in).
///
///     strata::shared_value<std::int64_t> total(0);
///     total.update([](std::int64_t& t) { t += 5; });   // from any process
template <class T>
    requires std::is_trivially_copyable_v<T>
class shared_value {
public:
    explicit shared_value(const T& initial = T{}) : buffer_(detail::shared_mutex_cell::size + sizeof(T), "strata-value") {
        detail::shared_mutex_cell::initialise(buffer_.data());
        std::memcpy(slot(), &initial, sizeof(T));
    }
    /// Views a buffer made by another shared_value (e.g. received by a task).
    explicit shared_value(shared_buffer buffer) : buffer_(std::move(buffer)) {
        if (buffer_.size() != detail::shared_mutex_cell::size + sizeof(T)) {
            throw error("shared_value: buffer is not a shared_value of this type");
        }
    }

    /// A copy of the value, read under the lock.
    T get() const {
        guard lock(*this);
        T value;
        std::memcpy(&value, slot(), sizeof(T));
        return value;
    }
    void set(const T& value) {
        guard lock(*this);
        std::memcpy(slot(), &value, sizeof(T));
    }
    /// Calls fn(T&) under the lock and returns what it returns.
    template <class Fn>
    decltype(auto) update(Fn&& fn) {
        guard lock(*this);
        return std::forward<Fn>(fn)(*reinterpret_cast<T*>(slot()));
    }
    const shared_buffer& buffer() const noexcept { return buffer_; }

private:
    struct guard {
        const shared_value& owner;
        explicit guard(const shared_value& v) : owner(v) { detail::shared_mutex_cell::lock(v.buffer_.data()); }
        ~guard() { detail::shared_mutex_cell::unlock(owner.buffer_.data()); }
    };
    void* slot() const noexcept { return buffer_.data() + detail::shared_mutex_cell::size; }
    shared_buffer buffer_;
};

}  // namespace strata
