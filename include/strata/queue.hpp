// strata::queue: a queue shared by processes, like Python's
// multiprocessing.Queue (queue.cpp).
#pragma once

#include <chrono>

#include "strata/codec.hpp"
#include "strata/detail/channel.hpp"
#include "strata/export.hpp"

namespace strata {

/// A multi-producer, multi-consumer queue shared by processes (pass it to
/// tasks or fork after making it). Each value goes to exactly one get().
/// Bounded by the kernel's socket buffer: put() waits when it is full.
/// close() wakes every blocked get() in every process.
class STRATA_API queue {
public:
    queue();
    queue(const queue& other);
    queue& operator=(const queue& other);
    queue(queue&& other) noexcept;
    queue& operator=(queue&& other) noexcept;
    ~queue();

    template <class T>
    void put(const T& value) {
        detail::send_as(write_fd_, value, "queue");
    }
    /// The next value; channel_timeout after `timeout`; channel_closed once
    /// the queue is closed and empty.
    template <class T>
    T get(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
        return detail::receive_as<T>(read_fd_, timeout, "queue");
    }
    /// True if no value is waiting right now (another process may change that at once).
    bool empty() const;
    /// Closes the queue for everyone: put() fails, get() drains what is left
    /// and then throws channel_closed.
    void close();

    int read_fd() const noexcept { return read_fd_; }
    int write_fd() const noexcept { return write_fd_; }
    /// Adopts two descriptors (used when a queue arrives in another process).
    queue(int read_fd, int write_fd) noexcept : read_fd_(read_fd), write_fd_(write_fd) {}

private:
    int read_fd_ = -1;
    int write_fd_ = -1;
};

template <>
struct codec<queue> {
    STRATA_API static void encode(writer& w, const queue& q);
    STRATA_API static queue decode(reader& r);
};

}  // namespace strata
