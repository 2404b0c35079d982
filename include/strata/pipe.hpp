// strata::pipe_end and make_pipe: two connected ends that carry values
// between processes, like Python's multiprocessing.Pipe (pipe.cpp).
#pragma once

#include <chrono>
#include <utility>

#include "strata/codec.hpp"
#include "strata/detail/channel.hpp"
#include "strata/export.hpp"

namespace strata {

/// One end of a pipe (see make_pipe). Move-only; travels to another process
/// as a task argument (by descriptor).
class STRATA_API pipe_end {
public:
    pipe_end() = default;
    explicit pipe_end(int fd, bool can_send, bool can_receive) : fd_(fd), can_send_(can_send), can_receive_(can_receive) {}
    pipe_end(pipe_end&& other) noexcept { *this = std::move(other); }
    pipe_end& operator=(pipe_end&& other) noexcept;
    pipe_end(const pipe_end&) = delete;
    pipe_end& operator=(const pipe_end&) = delete;
    ~pipe_end() { close(); }

    /// Sends one value. Throws channel_closed if the other end is gone.
    template <class T>
    void send(const T& value) {
        require(can_send_, "send on a receive-only pipe end");
        detail::send_as(fd_, value, "pipe");
    }
    /// Receives one value of type T (usage_error if the sender sent another
    /// type). Throws channel_closed when the other end is closed and nothing
    /// is left, channel_timeout after `timeout`.
    template <class T>
    T recv(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
        require(can_receive_, "recv on a send-only pipe end");
        return detail::receive_as<T>(fd_, timeout, "pipe");
    }
    /// True if a value (or the end of the stream) can be read within `timeout`.
    bool poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;
    void close() noexcept;
    bool closed() const noexcept { return fd_ < 0; }
    int fd() const noexcept { return fd_; }
    bool can_send() const noexcept { return can_send_; }
    bool can_receive() const noexcept { return can_receive_; }

private:
    void require(bool allowed, const char* what) const;
    int fd_ = -1;
    bool can_send_ = false;
    bool can_receive_ = false;
};

/// A pipe between processes, like Python's multiprocessing.Pipe: two
/// connected ends. Duplex by default; with duplex = false the first end only
/// receives and the second only sends.
STRATA_API std::pair<pipe_end, pipe_end> make_pipe(bool duplex = true);

template <>
struct codec<pipe_end> {
    STRATA_API static void encode(writer& w, const pipe_end& end);
    STRATA_API static pipe_end decode(reader& r);
};

}  // namespace strata
