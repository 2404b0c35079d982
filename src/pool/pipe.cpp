// pipe_end and make_pipe: a connected pair of SOCK_SEQPACKET sockets.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "strata/pipe.hpp"
#include "syscall.hpp"

namespace strata {

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

}  // namespace strata
