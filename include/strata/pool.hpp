// strata::pool: long-lived worker processes that run registered tasks, the
// C++ counterpart of Python's multiprocessing.Pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "strata/codec.hpp"
#include "strata/detail/pool_submit.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/future.hpp"
#include "strata/result_stream.hpp"
#include "strata/start_method.hpp"
#include "strata/task.hpp"

namespace strata {

struct pool_options {
    /// Worker processes; 0 means one per hardware thread.
    unsigned processes = 0;
    /// A registered task taking no arguments, run once in each worker as it
    /// starts. If it throws, the pool cannot start (start_error).
    std::string initializer;
    /// A worker exits and is replaced after this many tasks; 0 = never.
    unsigned max_tasks_per_child = 0;
    start_method start = start_method::automatic;
    /// Per-task time limit; a task over it has its worker killed and fails
    /// with task_timeout. Zero means no limit.
    std::chrono::milliseconds timeout{0};
    /// The program spawned workers run. Empty: this program, which must call
    /// strata::serve_if_worker() first thing in main().
    std::string worker_program;
    /// How long a new worker may take to report that it started.
    std::chrono::milliseconds start_timeout{10'000};
};

/// Counters for benchmarks and tests.
struct pool_stats {
    std::uint64_t workers_started = 0;  ///< including replacements
    std::uint64_t workers_lost = 0;     ///< died while running a task, or killed for a timeout
    std::uint64_t tasks_completed = 0;  ///< finished with a result or an exception
    std::uint64_t fork_servers_lost = 0;  ///< the fork server ended (killed); later workers are spawned
};

/// A pool of worker processes.
///
///     STRATA_TASK(square, [](std::int64_t x) { return x * x; });
///     strata::pool pool({.processes = 2});
///     auto f = pool.submit(square, std::int64_t{7});   // future<std::int64_t>
///     auto all = pool.map(square, std::vector<std::int64_t>{1, 2, 3});
///
/// Thread-safe: any thread may submit and wait. The destructor closes the
/// pool and waits for queued tasks; it never kills workers silently (use
/// terminate() for that).
class STRATA_API pool {
public:
    explicit pool(pool_options options = {});
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;
    pool(pool&&) noexcept;
    pool& operator=(pool&&) noexcept;

    /// Number of worker processes.
    unsigned size() const noexcept;
    pool_stats stats() const;
    /// Current worker process ids.
    std::vector<int> worker_pids() const;

    /// Queues one call of `t`; the future holds its result.
    template <class R, class... Args, class... Given>
        requires std::constructible_from<std::tuple<std::decay_t<Args>...>, Given&&...>
    future<R> submit(const task<R(Args...)>& t, Given&&... args) {
        writer w;
        w.put(std::tuple<std::decay_t<Args>...>(std::forward<Given>(args)...));
        return future<R>(detail::submit_to(core_, detail::submission::one, t.name(), std::move(w)));
    }

    /// Queues a call of the task registered as `name`, whose result is R.
    /// Argument types must be exactly the task's parameter types (checked:
    /// usage_error otherwise, as for an unknown name or another result type).
    template <class R, class... Given>
    future<R> submit(std::string_view name, const Given&... args) {
        using stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
        check_call(name, detail::type_tag<stored>(), typeid(stored),
                   detail::type_tag<std::tuple<std::decay_t<Given>...>>(),
                   typeid(std::tuple<std::decay_t<Given>...>));
        writer w;
        w.put(std::tuple<std::decay_t<Given>...>(args...));
        return future<R>(detail::submit_to(core_, detail::submission::one, name, std::move(w)));
    }

    /// Runs one call and waits for its result.
    template <class R, class... Args, class... Given>
    R apply(const task<R(Args...)>& t, Given&&... args) {
        return submit(t, std::forward<Given>(args)...).get();
    }

    /// Calls `t` on every item, in chunks of `chunksize` items per message (0:
    /// about four chunks per worker), and returns the results in order. If
    /// an item fails, the other chunks still finish and map throws the
    /// failure of the first failed item's chunk.
    template <class R, class Arg, std::ranges::input_range Items>
    std::vector<detail::stored_result<R>> map(const task<R(Arg)>& t, Items&& items, std::size_t chunksize = 0) {
        return map_async(t, std::forward<Items>(items), chunksize).get();
    }
    template <class R, class Arg, std::ranges::input_range Items>
    future<std::vector<detail::stored_result<R>>> map_async(const task<R(Arg)>& t, Items&& items,
                                                            std::size_t chunksize = 0) {
        return detail::submit_chunked<R, std::decay_t<Arg>, false>(core_, size(), t.name(), std::forward<Items>(items), chunksize);
    }

    /// Like map, each item being a tuple of the task's arguments.
    template <class R, class... Args, std::ranges::input_range Items>
    std::vector<detail::stored_result<R>> starmap(const task<R(Args...)>& t, Items&& items, std::size_t chunksize = 0) {
        return starmap_async(t, std::forward<Items>(items), chunksize).get();
    }
    template <class R, class... Args, std::ranges::input_range Items>
    future<std::vector<detail::stored_result<R>>> starmap_async(const task<R(Args...)>& t, Items&& items,
                                                                std::size_t chunksize = 0) {
        return detail::submit_chunked<R, std::tuple<std::decay_t<Args>...>, true>(core_, size(), t.name(), std::forward<Items>(items), chunksize);
    }

    /// Results in item order as they become available, reading `items`
    /// lazily: memory stays bounded however many items there are.
    template <class R, class Arg, std::ranges::input_range Items>
    result_stream<detail::stored_result<R>> imap(const task<R(Arg)>& t, Items&& items, std::size_t chunksize = 1) {
        return detail::submit_streamed<R, std::decay_t<Arg>>(core_, size(), t.name(), std::forward<Items>(items), chunksize, true);
    }
    /// Like imap, in the order results arrive.
    template <class R, class Arg, std::ranges::input_range Items>
    result_stream<detail::stored_result<R>> imap_unordered(const task<R(Arg)>& t, Items&& items,
                                                           std::size_t chunksize = 1) {
        return detail::submit_streamed<R, std::decay_t<Arg>>(core_, size(), t.name(), std::forward<Items>(items), chunksize, false);
    }

    /// No new tasks; queued ones still run.
    void close();
    /// Waits until every queued task has finished and the workers have
    /// exited. Requires close() or terminate() first (usage_error otherwise).
    void join();
    /// Kills the workers now (SIGTERM, then SIGKILL after a grace period),
    /// fails unfinished tasks, reaps every child.
    void terminate();

private:
    void check_call(std::string_view name, std::uint64_t result_tag, const std::type_info& result_type,
                    std::uint64_t argument_tag, const std::type_info& argument_types) const;
    std::shared_ptr<detail::pool_core> core_;
};

/// In a program that may be started as a spawned worker, call this first
/// thing in main(): when the program was started as a worker it serves
/// tasks and exits; otherwise it returns at once.
///
///     int main(int argc, char** argv) { strata::serve_if_worker(); ... }
STRATA_API void serve_if_worker();

}  // namespace strata
