// future<T>: the result of a task that runs in a worker process; what runs
// when it finishes (on_done); and waiting on several (completion_queue,
// as_completed, wait).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/codec.hpp"
#include "strata/detail/future_state.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"

namespace strata {

/// Keeps a callback given to future::on_done registered. Destroying the hook
/// (or reset()) withdraws the callback: it never runs afterwards, and if it
/// is running on another thread, the hook waits for it to return. So a
/// callback never outlives what it captures as long as the hook is declared
/// after (destroyed before) those objects. Move-only.
class completion_hook {
public:
    completion_hook() = default;
    explicit completion_hook(std::shared_ptr<detail::completion_callback> callback) : callback_(std::move(callback)) {}
    completion_hook(completion_hook&&) noexcept = default;
    completion_hook& operator=(completion_hook&& other) noexcept {
        if (this != &other) {
            reset();
            callback_ = std::move(other.callback_);
        }
        return *this;
    }
    completion_hook(const completion_hook&) = delete;
    completion_hook& operator=(const completion_hook&) = delete;
    ~completion_hook() { reset(); }

    /// Withdraws the callback (waits for a run under way on another thread).
    void reset() noexcept {
        if (callback_) callback_->dismiss();
        callback_.reset();
    }

private:
    std::shared_ptr<detail::completion_callback> callback_;
};

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
    /// True after the task succeeded (get() returns its result).
    bool succeeded() const {
        check_valid();
        std::lock_guard lock(state_->mutex);
        return state_->status == detail::task_status::succeeded;
    }
    /// True after the task failed (get() would throw something other than usage_error).
    bool failed() const {
        check_valid();
        std::lock_guard lock(state_->mutex);
        return state_->status == detail::task_status::failed;
    }
    bool valid() const noexcept { return state_ != nullptr; }
    /// The process id of the worker that ran (or runs) the task; 0 while no
    /// worker has taken it.
    int worker_pid() const {
        check_valid();
        std::lock_guard lock(state_->mutex);
        return state_->worker_pid;
    }

    /// Calls `callback(future)` (or `callback()`) once the task has finished
    /// (succeeded, failed or cancelled): on the pool's thread as it finishes
    /// (on the cancelling thread for a cancel), or here and now, before this
    /// returns, if it has finished already. The pool holds no lock of its own
    /// then, so the callback may submit or cancel; but while it runs, the
    /// pool's thread hands out and collects nothing: keep it quick, do not
    /// wait there for another task, and do not throw (what it throws is
    /// reported on stderr and dropped). It stays registered while the
    /// returned hook lives:
    ///
    ///     std::atomic<int> done = 0;
    ///     strata::completion_hook hook = f.on_done([&] { ++done; });  // after `done`
    template <class Callback>
        requires std::is_invocable_v<Callback&, const future&> || std::is_invocable_v<Callback&>
    [[nodiscard]] completion_hook on_done(Callback callback) const {
        check_valid();
        std::weak_ptr<detail::future_state> weak = state_;
        auto registered = std::make_shared<detail::completion_callback>([weak, call = std::move(callback)]() mutable {
            auto state = weak.lock();
            if (!state) return;
            if constexpr (std::is_invocable_v<Callback&, const future&>) {
                call(future(std::move(state)));
            } else {
                call();
            }
        });
        // The state is kept until it finishes: a map_async future dropped
        // after on_done still gets there (its parts hold it only weakly).
        state_->when_finished([registered, keep = state_] { registered->run(); });
        return completion_hook(std::move(registered));
    }

    /// The engine's view of this task (for strata's own wait functions).
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

/// Futures in the order they finish, for a set that grows while you wait
/// (Java's CompletionService, Python's as_completed over a growing set):
/// add() each future as it is submitted, next() gives the position of the
/// next one to finish. Not thread-safe; one thread adds and takes.
///
///     strata::completion_queue<int> done;
///     done.add(pool.submit(square, 3));
///     while (done.pending() > 0) use(done[done.next()].get());
template <class T>
class completion_queue {
public:
    /// Watches `f`; returns its position (0 for the first added, and so on).
    std::size_t add(future<T> f) {
        if (!f.valid()) throw usage_error("this future refers to no task");
        futures_.push_back(std::move(f));
        return list_.add(futures_.back().state());
    }
    /// Waits for the next future to finish that next() has not returned yet,
    /// and returns its position. usage_error when none is pending.
    std::size_t next() { return *list_.next(); }
    /// Like next(), waiting at most `timeout`; nullopt if none finished.
    template <class Rep, class Period>
    std::optional<std::size_t> next_for(std::chrono::duration<Rep, Period> timeout) {
        const auto now = std::chrono::steady_clock::now();
        const auto room = std::chrono::steady_clock::time_point::max() - now;
        // Compared as seconds: a timeout of milliseconds::max() would overflow nanoseconds.
        return list_.next(std::chrono::duration<double>(timeout) >= std::chrono::duration<double>(room)
                              ? std::chrono::steady_clock::time_point::max()
                              : now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
    }
    /// The future at `position` (a reference that the next add() may move).
    future<T>& operator[](std::size_t position) { return futures_.at(position); }
    /// Futures added so far.
    std::size_t size() const noexcept { return futures_.size(); }
    /// Added and not yet returned by next().
    std::size_t pending() const noexcept { return list_.pending(); }

private:
    std::vector<future<T>> futures_;
    detail::completion_list list_;
};

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
