// Internal: a single-threaded process, forked when a pool starts, that forks
// the pool's workers on request. Replacement workers then never come from the
// parent, which by then runs the dispatcher thread (and maybe others): a fork
// of a multi-threaded process can inherit a lock some other thread held.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace strata::detail {

class fork_server {
public:
    /// Forks the server now (call while no other thread can hold a lock the
    /// workers need). `close_in_child`: descriptors the server must not keep.
    fork_server(const std::vector<int>& close_in_child, const std::string& initializer);
    ~fork_server();
    fork_server(const fork_server&) = delete;
    fork_server& operator=(const fork_server&) = delete;

    struct worker {
        pid_t pid;
        int channel;  ///< the pool's end of the worker's channel (owned by the caller)
    };
    /// A new worker; throws start_error if the server could not fork.
    worker start_worker(std::chrono::milliseconds timeout);

    /// The wait status of worker `pid` once the server has reaped it, or -1.
    /// With `wait`, waits up to `timeout` for it.
    int exit_status(pid_t pid, bool wait, std::chrono::milliseconds timeout);

    pid_t pid() const noexcept { return pid_; }
    /// False once the server has ended (it is reaped then).
    bool running();
    /// True once the server's end of the channel is closed (it exited or was
    /// killed): it will report nothing more.
    bool gone() const noexcept { return gone_; }

private:
    /// Reads what the server sent; false on timeout or end of stream.
    bool read_messages(std::chrono::milliseconds timeout);

    pid_t pid_ = -1;
    int channel_ = -1;
    bool gone_ = false;
    bool reaped_ = false;
    std::map<pid_t, int> exits_;
    std::vector<worker> started_;
};

}  // namespace strata::detail
