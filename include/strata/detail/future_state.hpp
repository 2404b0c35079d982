// What the pool and a future share about one task: where its outcome lands,
// who waits for it, what runs when it finishes. Not for direct use: the
// public face is strata::future and strata::completion_queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "strata/export.hpp"
#include "strata/shared_memory.hpp"

namespace strata {

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

/// While one lives on a thread, the callbacks of states that finish on that
/// thread are held, in order, until run() or its end: the pool's dispatcher
/// finishes tasks under its lock and runs their callbacks after releasing it.
class STRATA_API deferred_callbacks {
public:
    deferred_callbacks() noexcept;
    ~deferred_callbacks();
    deferred_callbacks(const deferred_callbacks&) = delete;
    deferred_callbacks& operator=(const deferred_callbacks&) = delete;
    /// Runs what is held (and what those callbacks finish in turn).
    void run() noexcept;
    /// Holds `callbacks` if a deferred_callbacks lives on this thread; false if none does.
    static bool hold(std::vector<std::function<void()>>& callbacks);

private:
    std::vector<std::function<void()>> held_;
    deferred_callbacks* outer_;
};

/// A callback registered through future::on_done. It runs at most once,
/// never after dismiss(), and dismiss() returns only when a run under way
/// on another thread has returned: whoever holds the hook decides how long
/// what the callback captures must live.
class STRATA_API completion_callback {
public:
    explicit completion_callback(std::function<void()> callback) : callback_(std::move(callback)) {}
    completion_callback(const completion_callback&) = delete;
    completion_callback& operator=(const completion_callback&) = delete;
    /// Runs the callback unless dismissed; what it throws is reported on
    /// stderr and dropped (it runs on the pool's own thread).
    void run() noexcept;
    /// The callback never runs after this returns.
    void dismiss() noexcept;

private:
    std::mutex mutex_;
    std::condition_variable returned_;
    std::function<void()> callback_;
    bool dismissed_ = false;
    std::optional<std::thread::id> runner_;
};

/// States in the order they finish, for a set that grows while it is
/// waited on. Callbacks on the states hold only the shared arrival list,
/// so the list may go first.
class STRATA_API completion_list {
public:
    completion_list();
    completion_list(const completion_list&) = delete;  // copies would take each other's arrivals
    completion_list& operator=(const completion_list&) = delete;
    completion_list(completion_list&&) noexcept = default;
    completion_list& operator=(completion_list&&) noexcept = default;
    /// Watches `state`; returns its position (0, 1, ...).
    std::size_t add(const std::shared_ptr<future_state>& state);
    /// The position of the next state to finish that next() has not
    /// returned yet; waits until `deadline`, nullopt if none finished by then.
    /// usage_error if every added state has been returned.
    std::optional<std::size_t> next(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
    std::size_t size() const noexcept { return added_; }
    /// Added and not yet returned by next().
    std::size_t pending() const noexcept { return added_ - returned_; }
    /// How many have finished (returned by next() or not).
    std::size_t finished() const;

private:
    struct arrivals;
    std::shared_ptr<arrivals> arrivals_;
    std::size_t added_ = 0;
    std::size_t returned_ = 0;
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

}  // namespace strata
