// strata::process: one child process, the building block under the pool, for
// programs that manage child processes and channels themselves (with
// pipe.hpp and queue.hpp, included here).
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
#include "strata/pipe.hpp"
#include "strata/queue.hpp"
#include "strata/start_method.hpp"
#include "strata/task.hpp"

namespace strata {

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
