// queue: one SOCK_SEQPACKET socket pair whose ends every process holding the
// queue shares.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "strata/queue.hpp"
#include "syscall.hpp"

namespace strata {

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
