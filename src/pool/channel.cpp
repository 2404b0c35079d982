// pipe_end, make_pipe and queue: values over SOCK_SEQPACKET socket pairs.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "message.hpp"
#include "strata/process.hpp"
#include "syscall.hpp"

namespace strata {

namespace detail {

void send_value(int fd, writer& value, std::uint64_t tag, const char* what) {
    if (fd < 0) throw usage_error(std::string(what) + ": send on a closed end");
    const packet_part part(message_kind::value, 0, tag, {}, std::move(value.bytes()), value.release_fds());
    if (send_one(fd, part, true) != send_status::sent) {
        throw channel_closed(std::string(what) + ": nobody can receive any more (the other end is closed)");
    }
}

bool receive_value(int fd, std::uint64_t tag, const std::string& type, std::chrono::milliseconds timeout,
                   const std::function<void(reader&)>& decode, const char* what) {
    if (fd < 0) throw usage_error(std::string(what) + ": receive on a closed end");
    using clock = std::chrono::steady_clock;
    const bool forever = timeout == std::chrono::milliseconds::max();
    const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
    while (true) {
        int wait_ms = -1;
        if (!forever) {
            wait_ms = static_cast<int>(std::max<long long>(
                0, std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count()));
        }
        pollfd watch{fd, POLLIN, 0};
        const int ready = STRATA_RETRY(::poll(&watch, 1, wait_ms));
        if (ready < 0) throw std::system_error(errno, std::generic_category(), std::string("poll on a ") + what);
        if (ready == 0) return false;
        received packet = receive_packet(fd, false);
        if (packet.state == received::status::would_block) continue;  // another reader was quicker
        if (packet.state == received::status::closed) {
            throw channel_closed(std::string(what) + ": closed, and nothing is left to read");
        }
        auto& m = packet.messages.front();
        if (m.kind != message_kind::value || packet.messages.size() != 1) {
            throw protocol_error(std::string(what) + ": received something that is not a value");
        }
        if (m.tag != tag) throw usage_error(std::string(what) + ": the value received is not a " + type);
        reader in(m.payload().data(), m.payload().size(), &m.fds);
        decode(in);
        return true;
    }
}

}  // namespace detail

pipe_end& pipe_end::operator=(pipe_end&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        can_send_ = other.can_send_;
        can_receive_ = other.can_receive_;
    }
    return *this;
}

void pipe_end::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void pipe_end::require(bool allowed, const char* what) const {
    if (fd_ < 0) throw usage_error(std::string("pipe: ") + what + " end that is closed");
    if (!allowed) throw usage_error(std::string("pipe: ") + what);
}

bool pipe_end::poll(std::chrono::milliseconds timeout) const {
    if (fd_ < 0) throw usage_error("pipe: poll on a closed end");
    pollfd watch{fd_, POLLIN, 0};
    return STRATA_RETRY(::poll(&watch, 1, static_cast<int>(timeout.count()))) > 0;
}

std::pair<pipe_end, pipe_end> make_pipe(bool duplex) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair for a pipe");
    }
    if (!duplex) {
        ::shutdown(ends[0], SHUT_WR);
        ::shutdown(ends[1], SHUT_RD);
    }
    return {pipe_end(ends[0], duplex, true), pipe_end(ends[1], true, duplex)};
}

void codec<pipe_end>::encode(writer& w, const pipe_end& end) {
    if (end.closed()) throw usage_error("cannot send a closed pipe end");
    w.put(w.add_fd(end.fd()));
    w.put(end.can_send());
    w.put(end.can_receive());
}

pipe_end codec<pipe_end>::decode(reader& r) {
    // Every plain field first: once a descriptor is taken, nothing may throw.
    const auto index = r.get<std::uint32_t>();
    const bool can_send = r.get<bool>();
    const bool can_receive = r.get<bool>();
    return pipe_end(r.take_fd(index), can_send, can_receive);
}

queue::queue() {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair for a queue");
    }
    write_fd_ = ends[0];
    read_fd_ = ends[1];
}

queue::queue(const queue& other) : queue(-1, -1) { *this = other; }

queue& queue::operator=(const queue& other) {
    if (this == &other) return *this;
    const int read_copy = ::fcntl(other.read_fd_, F_DUPFD_CLOEXEC, 0);
    const int write_copy = ::fcntl(other.write_fd_, F_DUPFD_CLOEXEC, 0);
    if (read_copy < 0 || write_copy < 0) {
        const int saved = errno;
        if (read_copy >= 0) ::close(read_copy);
        if (write_copy >= 0) ::close(write_copy);
        throw std::system_error(saved, std::generic_category(), "duplicating a queue");
    }
    this->~queue();
    read_fd_ = read_copy;
    write_fd_ = write_copy;
    return *this;
}

queue::queue(queue&& other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

queue& queue::operator=(queue&& other) noexcept {
    if (this != &other) {
        this->~queue();
        read_fd_ = std::exchange(other.read_fd_, -1);
        write_fd_ = std::exchange(other.write_fd_, -1);
    }
    return *this;
}

queue::~queue() {
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0) ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
}

bool queue::empty() const {
    pollfd watch{read_fd_, POLLIN, 0};
    return STRATA_RETRY(::poll(&watch, 1, 0)) <= 0;
}

void queue::close() {
    // The socket is shared by every process holding the queue: this wakes
    // blocked readers everywhere and makes every writer's send fail.
    ::shutdown(read_fd_, SHUT_RD);
}

void codec<queue>::encode(writer& w, const queue& q) {
    w.put(w.add_fd(q.read_fd()));
    w.put(w.add_fd(q.write_fd()));
}

queue codec<queue>::decode(reader& r) {
    const auto read_index = r.get<std::uint32_t>();
    const auto write_index = r.get<std::uint32_t>();
    const int read_fd = r.take_fd(read_index);
    try {
        return queue(read_fd, r.take_fd(write_index));
    } catch (...) {
        ::close(read_fd);
        throw;
    }
}

}  // namespace strata
