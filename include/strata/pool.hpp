// strata::pool: long-lived worker processes that run registered tasks, the
// C++ counterpart of Python's multiprocessing.Pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "strata/codec.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/future.hpp"
#include "strata/task.hpp"

namespace strata {

/// How worker processes are made.
enum class start_method {
    fork,       ///< copy this process (fast); refused when it runs several threads
    spawn,      ///< start worker_program afresh; works from any process
    automatic,  ///< fork while this process has one thread, otherwise spawn
};

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

namespace detail {
class pool_core;
template <class R>
class result_stream_state;
}  // namespace detail

/// Results of imap / imap_unordered, produced while you read them: at most a
/// bounded number of chunks are in flight, so memory stays bounded for any
/// number of items. An input range; a failed item throws when reached.
template <class R>
class result_stream {
public:
    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(result_stream* owner) : owner_(owner) { advance(); }
        R& operator*() const { return *current_; }
        R* operator->() const { return &*current_; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_.has_value(); }

    private:
        void advance() { current_ = owner_->next(); }
        result_stream* owner_ = nullptr;
        mutable std::optional<R> current_;
    };

    explicit result_stream(std::shared_ptr<detail::result_stream_state<R>> state) : state_(std::move(state)) {}
    /// The next result, or nullopt at the end. Throws the item's failure.
    std::optional<R> next() { return state_->next(); }
    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() { return {}; }

private:
    std::shared_ptr<detail::result_stream_state<R>> state_;
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
        return future<R>(submit_encoded(run_one, t.name(), std::move(w)));
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
        return future<R>(submit_encoded(run_one, name, std::move(w)));
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
        return chunked<R, std::decay_t<Arg>, false>(t.name(), std::forward<Items>(items), chunksize);
    }

    /// Like map, each item being a tuple of the task's arguments.
    template <class R, class... Args, std::ranges::input_range Items>
    std::vector<detail::stored_result<R>> starmap(const task<R(Args...)>& t, Items&& items, std::size_t chunksize = 0) {
        return starmap_async(t, std::forward<Items>(items), chunksize).get();
    }
    template <class R, class... Args, std::ranges::input_range Items>
    future<std::vector<detail::stored_result<R>>> starmap_async(const task<R(Args...)>& t, Items&& items,
                                                                std::size_t chunksize = 0) {
        return chunked<R, std::tuple<std::decay_t<Args>...>, true>(t.name(), std::forward<Items>(items), chunksize);
    }

    /// Results in item order as they become available, reading `items`
    /// lazily: memory stays bounded however many items there are.
    template <class R, class Arg, std::ranges::input_range Items>
    result_stream<detail::stored_result<R>> imap(const task<R(Arg)>& t, Items&& items, std::size_t chunksize = 1) {
        return stream<R, std::decay_t<Arg>>(t.name(), std::forward<Items>(items), chunksize, true);
    }
    /// Like imap, in the order results arrive.
    template <class R, class Arg, std::ranges::input_range Items>
    result_stream<detail::stored_result<R>> imap_unordered(const task<R(Arg)>& t, Items&& items,
                                                           std::size_t chunksize = 1) {
        return stream<R, std::decay_t<Arg>>(t.name(), std::forward<Items>(items), chunksize, false);
    }

    /// No new tasks; queued ones still run.
    void close();
    /// Waits until every queued task has finished and the workers have
    /// exited. Requires close() or terminate() first (usage_error otherwise).
    void join();
    /// Kills the workers now (SIGTERM, then SIGKILL after a grace period),
    /// fails unfinished tasks, reaps every child.
    void terminate();

    /// Kinds of submission, for the templates above.
    enum submission : int { run_one, run_chunk, run_star_chunk };

private:
    std::shared_ptr<detail::future_state> submit_encoded(submission kind, std::string_view name, writer payload);
    /// Like submit_encoded, for callers that hold the engine itself (streams
    /// outlive neither the engine nor need the pool object).
    static std::shared_ptr<detail::future_state> submit_to(const std::shared_ptr<detail::pool_core>& core,
                                                           submission kind, std::string_view name, writer payload);
    void check_call(std::string_view name, std::uint64_t result_tag, const std::type_info& result_type,
                    std::uint64_t argument_tag, const std::type_info& argument_types) const;
    std::size_t auto_chunksize(std::size_t items) const noexcept;

    template <class R, class Item, bool star, class Items>
    future<std::vector<detail::stored_result<R>>> chunked(std::string_view name, Items&& items, std::size_t chunksize) {
        // Items already laid out as Items are encoded straight from the caller's memory.
        constexpr bool direct = std::ranges::contiguous_range<Items> &&
                                std::is_same_v<std::ranges::range_value_t<Items>, Item>;
        std::vector<Item> copied;
        if constexpr (!direct) {
            if constexpr (std::ranges::sized_range<Items>) copied.reserve(std::ranges::size(items));
            for (auto&& item : items) copied.push_back(Item(std::forward<decltype(item)>(item)));
        }
        const std::span<const Item> all = [&] {
            if constexpr (direct) {
                return std::span<const Item>(std::ranges::data(items), std::ranges::size(items));
            } else {
                return std::span<const Item>(copied);
            }
        }();
        if (chunksize == 0) chunksize = auto_chunksize(all.size());
        std::vector<std::shared_ptr<detail::future_state>> parts;
        for (std::size_t first = 0; first < all.size(); first += chunksize) {
            const std::size_t last = std::min(all.size(), first + chunksize);
            writer w;
            const std::uint64_t n = last - first;
            w.raw(&n, sizeof n);
            if constexpr (detail::bitwise<Item> && !std::is_same_v<Item, bool>) {
                w.raw(all.data() + first, (last - first) * sizeof(Item));
            } else {
                for (std::size_t i = first; i < last; ++i) w.put(all[i]);
            }
            parts.push_back(submit_encoded(star ? run_star_chunk : run_chunk, name, std::move(w)));
        }
        return future<std::vector<detail::stored_result<R>>>(
            detail::future_state::combine(std::string(name), std::move(parts)));
    }

    template <class R, class Item, class Items>
    result_stream<detail::stored_result<R>> stream(std::string_view name, Items&& items, std::size_t chunksize,
                                                  bool ordered) {
        if (chunksize == 0) chunksize = 1;
        auto source = std::make_shared<std::decay_t<decltype(std::views::all(std::forward<Items>(items)))>>(
            std::views::all(std::forward<Items>(items)));
        auto position = std::make_shared<std::ranges::iterator_t<decltype(*source)>>(std::ranges::begin(*source));
        std::string task_name(name);
        // The stream keeps the engine alive, not this pool object (which may move).
        auto next_chunk = [core = core_, source, position, task_name, chunksize]() -> std::shared_ptr<detail::future_state> {
            std::vector<Item> chunk;
            while (chunk.size() < chunksize && *position != std::ranges::end(*source)) {
                chunk.push_back(Item(**position));
                ++*position;
            }
            if (chunk.empty()) return nullptr;
            writer w;
            w.put(chunk);
            return submit_to(core, run_chunk, task_name, std::move(w));
        };
        return result_stream<detail::stored_result<R>>(std::make_shared<detail::result_stream_state<detail::stored_result<R>>>(
            std::move(next_chunk), 2 * static_cast<std::size_t>(size()) + 1, ordered));
    }

    std::shared_ptr<detail::pool_core> core_;
};

namespace detail {

/// The engine behind result_stream: keeps up to `window` chunks in flight.
template <class R>
class result_stream_state {
public:
    result_stream_state(std::function<std::shared_ptr<future_state>()> next_chunk, std::size_t window, bool ordered)
        : next_chunk_(std::move(next_chunk)), window_(window), ordered_(ordered), arrivals_(std::make_shared<arrivals>()) {}

    std::optional<R> next() {
        while (buffered_.empty()) {
            refill();
            if (in_flight_.empty()) return std::nullopt;
            std::shared_ptr<future_state> done = ordered_ ? in_flight_.front() : wait_any();
            std::erase(in_flight_, done);
            buffered_ = future<std::vector<R>>(done).get();
            buffered_position_ = 0;
            if (buffered_.empty()) buffered_.clear();
        }
        std::optional<R> value(std::move(buffered_[buffered_position_++]));
        if (buffered_position_ == buffered_.size()) buffered_.clear();
        return value;
    }

private:
    struct arrivals {
        std::mutex mutex;
        std::condition_variable changed;
        std::deque<std::shared_ptr<future_state>> finished;
    };

    void refill() {
        while (!exhausted_ && in_flight_.size() < window_) {
            auto chunk = next_chunk_();
            if (!chunk) {
                exhausted_ = true;
                break;
            }
            if (!ordered_) {
                std::weak_ptr<future_state> weak = chunk;
                chunk->when_finished([queue = arrivals_, weak] {
                    if (auto state = weak.lock()) {
                        std::lock_guard lock(queue->mutex);
                        queue->finished.push_back(state);
                        queue->changed.notify_all();
                    }
                });
            }
            in_flight_.push_back(std::move(chunk));
        }
    }

    std::shared_ptr<future_state> wait_any() {
        std::unique_lock lock(arrivals_->mutex);
        arrivals_->changed.wait(lock, [&] { return !arrivals_->finished.empty(); });
        auto state = arrivals_->finished.front();
        arrivals_->finished.pop_front();
        return state;
    }

    std::function<std::shared_ptr<future_state>()> next_chunk_;
    std::size_t window_;
    bool ordered_;
    bool exhausted_ = false;
    std::deque<std::shared_ptr<future_state>> in_flight_;
    std::shared_ptr<arrivals> arrivals_;
    std::vector<R> buffered_;
    std::size_t buffered_position_ = 0;
};

}  // namespace detail

/// In a program that may be started as a spawned worker, call this first
/// thing in main(): when the program was started as a worker it serves
/// tasks and exits; otherwise it returns at once.
///
///     int main(int argc, char** argv) { strata::serve_if_worker(); ... }
STRATA_API void serve_if_worker();

/// Number of threads this process runs now (from /proc/self/task).
STRATA_API unsigned thread_count();

}  // namespace strata
