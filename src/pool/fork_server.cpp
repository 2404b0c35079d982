// The fork server: forks pool workers from a clean single-threaded copy of the
// program and reports how each one ended.
#include "fork_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "message.hpp"
#include "strata/future.hpp"
#include "syscall.hpp"
#include "worker.hpp"

namespace strata::detail {

namespace {

[[noreturn]] void serve_forks(int channel, pid_t parent, const std::string& initializer) noexcept {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
        if (signal_number != SIGKILL && signal_number != SIGSTOP) ::signal(signal_number, SIG_DFL);
    }
    // Ctrl-C, SIGTERM and a hang-up sent to the process group are for the
    // parent and the workers: a server that died of one would take the
    // workers with it (PR_SET_PDEATHSIG) before they could clean up. It ends
    // with its channel, or with its parent.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t children;
    sigemptyset(&children);
    sigaddset(&children, SIGCHLD);
    ::sigprocmask(SIG_SETMASK, &children, nullptr);  // SIGCHLD only through the signalfd
    const int child_exits = ::signalfd(-1, &children, SFD_CLOEXEC | SFD_NONBLOCK);
    const pid_t self = ::getpid();
    try {
        while (true) {
            pollfd watched[] = {{channel, POLLIN, 0}, {child_exits, POLLIN, 0}};
            if (::poll(watched, 2, -1) < 0 && errno != EINTR) ::_exit(3);
            if (watched[1].revents != 0) {
                signalfd_siginfo info;
                while (::read(child_exits, &info, sizeof info) == sizeof info) {
                }
                int status = 0;
                pid_t ended = 0;
                while ((ended = ::waitpid(-1, &status, WNOHANG)) > 0) {
                    if (send_one(channel, packet_part(message_kind::exited, static_cast<std::uint64_t>(ended),
                                                      static_cast<std::uint64_t>(status), {}, {}, {}),
                                 true) != send_status::sent) {
                        ::_exit(0);
                    }
                }
            }
            if (watched[0].revents == 0) continue;
            received request = receive_packet(channel, false);
            if (request.state == received::status::closed) ::_exit(0);  // the pool is done
            for (const auto& m : request.messages) {
                if (m.kind != message_kind::fork_request) ::_exit(3);
                int ends[2] = {-1, -1};
                pid_t pid = -1;
                int failure = 0;
                if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
                    failure = errno;
                } else {
                    pid = ::fork();
                    if (pid == 0) {
                        ::close(channel);
                        ::close(child_exits);
                        ::close(ends[0]);
                        sigset_t none;
                        sigemptyset(&none);
                        ::sigprocmask(SIG_SETMASK, &none, nullptr);
                        worker_main(ends[1], self, initializer, worker_role::pool);
                    }
                    if (pid < 0) {
                        failure = errno;
                        ::close(ends[0]);
                    }
                    ::close(ends[1]);
                }
                std::vector<int> attached;
                if (pid > 0) attached.push_back(ends[0]);
                const packet_part reply(message_kind::forked, pid > 0 ? static_cast<std::uint64_t>(pid) : 0,
                                        static_cast<std::uint64_t>(failure), {}, {}, std::move(attached));
                if (send_one(channel, reply, true) != send_status::sent) ::_exit(0);
            }
        }
    } catch (...) {
        ::_exit(3);
    }
}

}  // namespace

fork_server::fork_server(const std::vector<int>& close_in_child, const std::string& initializer) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair for the fork server");
    }
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    const pid_t pid = sys::fork();
    if (pid < 0) {
        const int saved = errno;
        ::close(ends[0]);
        ::close(ends[1]);
        throw start_error(fmt::format("cannot start workers: fork failed: {}", std::strerror(saved)));
    }
    if (pid == 0) {
        ::close(ends[0]);
        for (const int fd : close_in_child) ::close(fd);
        serve_forks(ends[1], parent, initializer);
    }
    ::close(ends[1]);
    pid_ = pid;
    channel_ = ends[0];
}

fork_server::~fork_server() {
    ::close(channel_);  // end of stream: the server exits
    if (reaped_) return;
    // One that does not within a second (stopped, say) is killed.
    if (const int pidfd = sys::pidfd_open(pid_); pidfd >= 0) {
        pollfd exit_watch{pidfd, POLLIN, 0};
        if (STRATA_RETRY(::poll(&exit_watch, 1, 1000)) == 0) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
        ::close(pidfd);
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
}

bool fork_server::running() {
    if (reaped_) return false;
    int status = 0;
    if (STRATA_RETRY(::waitpid(pid_, &status, WNOHANG)) == pid_) {
        reaped_ = true;
        gone_ = true;
        return false;
    }
    return true;
}

bool fork_server::read_messages(std::chrono::milliseconds timeout) {
    pollfd watch{channel_, POLLIN, 0};
    if (STRATA_RETRY(::poll(&watch, 1, static_cast<int>(timeout.count()))) <= 0) return false;
    received packet = receive_packet(channel_, false);
    if (packet.state == received::status::closed) {
        gone_ = true;
        return false;
    }
    for (auto& m : packet.messages) {
        if (m.kind == message_kind::exited) {
            exits_[static_cast<pid_t>(m.id)] = static_cast<int>(m.tag);
        } else if (m.kind == message_kind::forked) {
            if (m.id == 0) {
                throw start_error(fmt::format("cannot start a worker: fork failed: {}",
                                              std::strerror(static_cast<int>(m.tag))));
            }
            if (m.fds.size() != 1) throw protocol_error("fork server: a worker arrived without its channel");
            started_.push_back({static_cast<pid_t>(m.id), std::exchange(m.fds[0], -1)});
        }
    }
    return true;
}

fork_server::worker fork_server::start_worker(std::chrono::milliseconds timeout) {
    if (const int injected = sys::take_injected_failure(sys::injectable::fork)) {
        throw start_error(fmt::format("cannot start a worker: fork failed: {}", std::strerror(injected)));
    }
    if (send_one(channel_, packet_part(message_kind::fork_request, 0, 0, {}, {}, {}), true) != send_status::sent) {
        throw start_error("cannot start a worker: the fork server has gone");
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (started_.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !read_messages(left)) throw start_error("cannot start a worker: the fork server did not answer");
    }
    const worker made = started_.front();
    started_.erase(started_.begin());
    return made;
}

int fork_server::exit_status(pid_t pid, bool wait, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (const auto found = exits_.find(pid); found != exits_.end()) {
            const int status = found->second;
            exits_.erase(found);
            return status;
        }
        const auto left = wait ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                               : std::chrono::milliseconds(0);
        if (left.count() < 0 || !read_messages(std::max(left, std::chrono::milliseconds(0)))) return -1;
    }
}

}  // namespace strata::detail
