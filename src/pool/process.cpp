// strata::process: one child running a task (fork or spawn) or a callable (fork).
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "message.hpp"
#include "strata/process.hpp"
#include "syscall.hpp"
#include "worker.hpp"

namespace strata {

process::process(std::function<void()> body) : body_(std::move(body)), name_("process") {
    start_ = strata::start_method::fork;
}

process::process(process&& other) noexcept { *this = std::move(other); }

process& process::operator=(process&& other) noexcept {
    if (this != &other) {
        // A child this object still owns is finished first, as the destructor would.
        if (pid_ > 0 && !exitcode_) {
            if (daemon_) kill();
            join();
        }
        if (pidfd_ >= 0) ::close(pidfd_);
        task_name_ = std::move(other.task_name_);
        arguments_ = std::move(other.arguments_);
        body_ = std::move(other.body_);
        name_ = std::move(other.name_);
        daemon_ = other.daemon_;
        start_ = other.start_;
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::exchange(other.pidfd_, -1);
        exitcode_ = other.exitcode_;
    }
    return *this;
}

process::~process() {
    if (pid_ > 0 && !exitcode_) {
        if (daemon_) kill();
        join();
    }
    if (pidfd_ >= 0) ::close(pidfd_);
}

void process::start() {
    if (pid_ > 0) throw usage_error("process '" + name_ + "' was already started");
    const unsigned threads = thread_count();
    auto method = start_;
    if (method == strata::start_method::automatic) {
        method = threads > 1 ? strata::start_method::spawn : strata::start_method::fork;
    }
    if (method == strata::start_method::fork && threads > 1) {
        throw usage_error(fmt::format("process '{}': cannot fork, this process runs {} threads{}", name_, threads,
                                      body_ ? " (a callable can only run in a forked child; use a task to spawn)" : ""));
    }
    if (body_) {
        std::fflush(nullptr);
        const pid_t pid = detail::sys::fork();
        if (pid < 0) throw start_error(fmt::format("process '{}': fork failed: {}", name_, std::strerror(errno)));
        if (pid == 0) {
            if (daemon_) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            int code = 0;
            try {
                body_();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "strata process %d (%s): %s: %s\n", static_cast<int>(::getpid()), name_.c_str(),
                             detail::type_name(typeid(e)).c_str(), e.what());
                code = 1;
            } catch (...) {
                std::fprintf(stderr, "strata process %d (%s): unknown exception\n", static_cast<int>(::getpid()),
                             name_.c_str());
                code = 1;
            }
            std::fflush(nullptr);
            ::_exit(code);
        }
        pid_ = pid;
    } else {
        // The message first: if it cannot be made, no child is left waiting for it.
        const detail::packet_part run(detail::message_kind::run, 1, 0, task_name_, std::move(arguments_->bytes()),
                                      arguments_->release_fds());
        int ends[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
            throw std::system_error(errno, std::generic_category(), "socketpair for a process");
        }
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } parent_end{ends[0]};
        try {
            pid_ = detail::launch_worker(method == strata::start_method::fork, "/proc/self/exe", ends[1], {ends[0]}, "",
                                         daemon_ ? detail::worker_role::daemon : detail::worker_role::process);
        } catch (...) {
            ::close(ends[1]);
            throw;
        }
        ::close(ends[1]);
        try {
            detail::send_one(ends[0], run, true);  // if the child already died, join() tells
        } catch (const std::exception&) {
            // Closing our end below makes the child see end of stream and exit.
        }
    }
    pidfd_ = detail::sys::pidfd_open(pid_);
}

bool process::reap(bool block) {
    if (pid_ <= 0) return false;
    if (exitcode_) return true;
    int status = 0;
    const pid_t result = STRATA_RETRY(::waitpid(pid_, &status, block ? 0 : WNOHANG));
    if (result != pid_) return false;
    exitcode_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    return true;
}

bool process::join(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) throw usage_error("process '" + name_ + "' was not started");
    if (exitcode_) return true;
    if (timeout != std::chrono::milliseconds::max() && pidfd_ >= 0) {
        pollfd watch{pidfd_, POLLIN, 0};
        if (STRATA_RETRY(::poll(&watch, 1, static_cast<int>(timeout.count()))) == 0) return false;
    }
    return reap(true);
}

bool process::is_alive() { return pid_ > 0 && !reap(false); }

void process::terminate() {
    if (is_alive()) ::kill(pid_, SIGTERM);
}

void process::kill() {
    if (is_alive()) ::kill(pid_, SIGKILL);
}

std::optional<int> process::exitcode() {
    reap(false);
    return exitcode_;
}

}  // namespace strata
