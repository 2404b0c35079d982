// process, pipe and queue: the building blocks under the pool, for programs
// that want to manage child processes and channels themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "strata/codec.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/start_method.hpp"
#include "strata/task.hpp"

namespace strata {

namespace detail {
/// Low-level send / receive of one encoded value on a SEQPACKET socket.
STRATA_API void send_value(int fd, writer& value, std::uint64_t tag, const char* what);
/// Returns false on timeout; throws channel_closed at end of stream.
STRATA_API bool receive_value(int fd, std::uint64_t tag, const std::string& type, std::chrono::milliseconds timeout,
                              const std::function<void(reader&)>& decode, const char* what);

template <class T>
void send_as(int fd, const T& value, const char* what) {
    writer w;
    w.put(value);
    send_value(fd, w, type_tag<T>(), what);
}

template <class T>
T receive_as(int fd, std::chrono::milliseconds timeout, const char* what) {
    std::optional<T> value;
    if (!receive_value(fd, type_tag<T>(), type_name(typeid(T)), timeout, [&](reader& r) { value.emplace(r.get<T>()); },
                       what)) {
        throw channel_timeout(std::string(what) + ": nothing arrived within the timeout");
    }
    return std::move(*value);
}
}  // namespace detail

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

/// One child process running a registered task (fork or spawn) or, under
/// fork only, any callable. Like Python's multiprocessing.Process:
///
///     strata::process child(write_report, std::string("out.txt"));
///     child.start();
///     child.join();
///     if (child.exitcode() != 0) ...
///
/// A task that throws makes the child print the exception to stderr and exit
/// with code 1. The destructor joins a non-daemon child and kills a daemon.
class STRATA_API process {
public:
    template <class R, class... Args, class... Given>
        requires std::constructible_from<std::tuple<std::decay_t<Args>...>, Given&&...>
    explicit process(const task<R(Args...)>& t, Given&&... args) : task_name_(t.name()) {
        writer w;
        w.put(std::tuple<std::decay_t<Args>...>(std::forward<Given>(args)...));
        arguments_ = std::make_shared<writer>(std::move(w));
        name_ = "process:" + task_name_;
    }
    /// Runs `body` in a forked child (this process must have one thread).
    explicit process(std::function<void()> body);
    process(process&&) noexcept;
    process& operator=(process&&) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    ~process();

    process& name(std::string value) {
        name_ = std::move(value);
        return *this;
    }
    /// A daemon dies with its parent and is killed by the destructor.
    process& daemon(bool value) {
        daemon_ = value;
        return *this;
    }
    process& start_method(strata::start_method method) {
        start_ = method;
        return *this;
    }

    void start();
    /// Waits for the child to exit, up to `timeout`; true if it has.
    bool join(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
    bool is_alive();
    void terminate();  ///< SIGTERM
    void kill();       ///< SIGKILL
    int pid() const noexcept { return pid_; }
    /// Exit code once exited; a killing signal as its negative number (like
    /// Python); nullopt while running or not started.
    std::optional<int> exitcode();
    const std::string& name() const noexcept { return name_; }
    bool is_daemon() const noexcept { return daemon_; }

private:
    bool reap(bool block);
    std::string task_name_;
    std::shared_ptr<writer> arguments_;
    std::function<void()> body_;
    std::string name_;
    bool daemon_ = false;
    strata::start_method start_ = strata::start_method::automatic;
    int pid_ = -1;
    int pidfd_ = -1;
    std::optional<int> exitcode_;
};

}  // namespace strata
