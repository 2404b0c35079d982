// future<T>: the result of a task that runs in a worker process, and the
// free functions that wait on several (as_completed, wait).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "strata/codec.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"

namespace strata {

/// A task raised an exception in its worker. The pool goes on.
class STRATA_API remote_error : public error {
public:
    remote_error(std::string task, int pid, std::string type, std::string message);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    /// The exception's type, e.g. "std::invalid_argument".
    const std::string& type_name() const noexcept { return type_; }
    /// The exception's what().
    const std::string& message() const noexcept { return message_; }

private:
    std::string task_, type_, message_;
    int pid_;
};

/// The worker running the task died (signal, abort, _exit, OOM kill). Only
/// that task fails; the pool replaces the worker.
class STRATA_API worker_lost : public error {
public:
    worker_lost(std::string task, int pid, std::string how);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    /// "killed by signal 9 (Killed)" or "exited with code 3".
    const std::string& how() const noexcept { return how_; }

private:
    std::string task_, how_;
    int pid_;
};

/// The task ran longer than its timeout; its worker was killed and replaced.
class STRATA_API task_timeout : public error {
public:
    task_timeout(std::string task, int pid, std::chrono::milliseconds limit);
    const std::string& task_name() const noexcept { return task_; }
    int worker_pid() const noexcept { return pid_; }
    std::chrono::milliseconds limit() const noexcept { return limit_; }

private:
    std::string task_;
    int pid_;
    std::chrono::milliseconds limit_;
};

/// A worker could not be started (fork/exec failed, its initializer threw,
/// it never answered).
class STRATA_API start_error : public error {
public:
    using error::error;
};

namespace detail {

enum class task_status { pending, running, succeeded, failed, cancelled };

/// Shared between a future and the pool: where the outcome lands.
struct STRATA_API future_state {
    std::mutex mutex;
    std::condition_variable changed;
    task_status status = task_status::pending;
    std::string task_name;
    int worker_pid = 0;
    std::uint64_t result_tag = 0;
    std::vector<std::byte> result;  ///< encoded result (small ones)
    shared_buffer result_mapping;   ///< encoded result (large ones, in their memfd)
    std::size_t result_size = 0;    ///< bytes of the result in result_mapping
    std::vector<int> fds;           ///< descriptors that came with the result
    std::exception_ptr failure;

    /// Pieces of a composite result (map_async): concatenated in order.
    bool composite = false;
    std::vector<std::shared_ptr<future_state>> parts;
    std::size_t parts_left = 0;
    std::weak_ptr<future_state> whole;  ///< the composite this is a part of

    /// Cancels while pending; set by the pool. Returns true if cancelled.
    std::function<bool()> cancel_hook;
    /// Called (outside the lock) whenever this state finishes.
    std::vector<std::function<void()>> on_finish;

    future_state() = default;
    future_state(const future_state&) = delete;
    future_state& operator=(const future_state&) = delete;
    ~future_state();

    bool finished_locked() const noexcept {
        return status == task_status::succeeded || status == task_status::failed || status == task_status::cancelled;
    }
    bool finished();
    void wait();
    bool wait_until(std::chrono::steady_clock::time_point deadline);
    /// Records the outcome, wakes waiters and runs on_finish callbacks.
    void finish(task_status outcome, std::exception_ptr error, std::vector<std::byte> bytes = {},
                std::vector<int> result_fds = {}, std::uint64_t tag = 0);
    /// Registers a callback for when this finishes; runs it at once if it has.
    void when_finished(std::function<void()> callback);
    /// Runs the pool's cancel hook (outside the lock); true if it cancelled.
    bool cancel();
    /// Throws what a get() must throw for a failed or cancelled state.
    void rethrow_if_unsuccessful();
    /// Makes a composite that finishes when every part has, failing with the
    /// first failed part in order.
    static std::shared_ptr<future_state> combine(std::string task, std::vector<std::shared_ptr<future_state>> parts);
};

/// Duplicates descriptors (close-on-exec); throws std::system_error.
STRATA_API std::vector<int> duplicate_fds(const std::vector<int>& fds);
/// Closes every descriptor that is not -1 and sets it to -1.
STRATA_API void close_fds(std::vector<int>& fds) noexcept;

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

}  // namespace detail

/// The outcome of one submitted task. Copies refer to the same task.
/// Thread-safe: several threads may wait on copies of one future.
template <class T>
class future {
public:
    future() = default;
    explicit future(std::shared_ptr<detail::future_state> state) : state_(std::move(state)) {}

    /// Waits for the task and returns its result. Throws remote_error,
    /// worker_lost or task_timeout as the task ended, usage_error if it was
    /// cancelled or its result is not a T. May be called more than once.
    T get() const {
        check_valid();
        state_->wait();
        state_->rethrow_if_unsuccessful();
        if (state_->composite) {
            if constexpr (detail::is_vector<T>::value) {
                T all;
                for (const auto& part : state_->parts) {
                    T piece = decode(*part);
                    all.insert(all.end(), std::make_move_iterator(piece.begin()), std::make_move_iterator(piece.end()));
                }
                return all;
            } else {
                throw usage_error("a combined result can only be read as a vector");
            }
        }
        return decode(*state_);
    }

    /// True when the task has finished (succeeded, failed or was cancelled).
    bool ready() const {
        check_valid();
        return state_->finished();
    }
    /// Waits up to `timeout`; true if the task finished.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        check_valid();
        return state_->wait_until(std::chrono::steady_clock::now() +
                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
    }
    void wait() const {
        check_valid();
        state_->wait();
    }
    /// Cancels the task if no worker has started it yet; true if it did.
    bool cancel() const {
        check_valid();
        return state_->cancel();
    }
    bool cancelled() const {
        check_valid();
        std::lock_guard lock(state_->mutex);
        return state_->status == detail::task_status::cancelled;
    }
    /// True after the task failed (get() would throw something other than usage_error).
    bool failed() const {
        check_valid();
        std::lock_guard lock(state_->mutex);
        return state_->status == detail::task_status::failed;
    }
    bool valid() const noexcept { return state_ != nullptr; }
    const std::shared_ptr<detail::future_state>& state() const noexcept { return state_; }

private:
    void check_valid() const {
        if (!state_) throw usage_error("this future refers to no task");
    }
    static T decode(detail::future_state& state) {
        using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
        if (state.result_tag != detail::type_tag<stored>()) {
            throw usage_error("task '" + state.task_name + "' does not return " + detail::type_name(typeid(stored)));
        }
        std::vector<int> fds;
        {
            // Descriptors are duplicated so that get() can be called again.
            std::lock_guard lock(state.mutex);
            fds = detail::duplicate_fds(state.fds);
        }
        reader in = state.result_mapping.empty() ? reader(state.result.data(), state.result.size(), &fds)
                                                 : reader(state.result_mapping.data(), state.result_size, &fds);
        struct closer {
            std::vector<int>& fds;
            ~closer() { detail::close_fds(fds); }
        } close_left{fds};
        if constexpr (std::is_void_v<T>) {
            in.get<std::monostate>();
        } else {
            return in.get<T>();
        }
    }
    std::shared_ptr<detail::future_state> state_;
};

/// What wait() waits for.
enum class return_when { all_completed, first_completed, first_exception };

/// Indices into the futures passed to wait().
struct wait_result {
    std::vector<std::size_t> done;
    std::vector<std::size_t> not_done;
};

namespace detail {
STRATA_API wait_result wait_states(const std::vector<std::shared_ptr<future_state>>& states, return_when condition,
                                   std::chrono::steady_clock::time_point deadline);
STRATA_API std::vector<std::size_t> completion_order(const std::vector<std::shared_ptr<future_state>>& states,
                                                     std::function<bool(std::size_t)> visit);
}  // namespace detail

/// Waits until `condition` holds for `futures` or `timeout` passes, like
/// Python's concurrent.futures.wait. Never throws a task's failure.
template <class T>
wait_result wait(const std::vector<future<T>>& futures, return_when condition = return_when::all_completed,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
    std::vector<std::shared_ptr<detail::future_state>> states;
    for (const auto& f : futures) states.push_back(f.state());
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::time_point::max() - now)
                              ? std::chrono::steady_clock::time_point::max()
                              : now + timeout;
    return detail::wait_states(states, condition, deadline);
}

/// The futures in the order they finish: calls visit(future) for each as it
/// finishes; stop early by returning false.
///
///     strata::as_completed(futures, [](strata::future<int>& f) { use(f.get()); return true; });
template <class T, class Visit>
void as_completed(std::vector<future<T>>& futures, Visit&& visit) {
    std::vector<std::shared_ptr<detail::future_state>> states;
    for (const auto& f : futures) states.push_back(f.state());
    detail::completion_order(states, [&](std::size_t index) {
        if constexpr (std::is_void_v<decltype(visit(futures[index]))>) {
            visit(futures[index]);
            return true;
        } else {
            return static_cast<bool>(visit(futures[index]));
        }
    });
}

/// The indices of `futures` in the order they finish (waits for all).
template <class T>
std::vector<std::size_t> as_completed(const std::vector<future<T>>& futures) {
    std::vector<std::shared_ptr<detail::future_state>> states;
    for (const auto& f : futures) states.push_back(f.state());
    return detail::completion_order(states, [](std::size_t) { return true; });
}

}  // namespace strata
