// `strata demo`: the parallel sum and sort demos, and what they share.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "command.hpp"
#include "strata/pool.hpp"

namespace strata::cli {

/// Options every demo takes.
struct demo_options {
    unsigned workers = 0;  ///< 0: one per hardware thread
    std::string backend = "processes";
};

/// Adds --workers and --backend to a demo subcommand.
void add_demo_options(CLI::App& sub, demo_options& options);

/// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

/// Where a demo's jobs run: worker processes, threads of this process, or
/// this thread alone. Each job is one call of a task; the threads and the
/// serial run call the same function the workers do, so the three compare
/// the same code.
class demo_runner {
public:
    /// Starts the pool first, for processes, while this process has one
    /// thread and can fork.
    explicit demo_runner(const demo_options& options);

    const std::string& backend() const noexcept { return backend_; }
    unsigned workers() const noexcept { return workers_; }
    /// How many parts to cut the work into: one per worker, one when serial.
    unsigned parts() const noexcept { return backend_ == "serial" ? 1 : workers_; }
    /// "processes, 2 workers; the pool started in 0.0160 s before".
    std::string describe() const;

    /// Runs task(calls[i]...) for every i and returns the results in order.
    template <class R, class... Args>
    std::vector<R> run(const task<R(Args...)>& task, R (*function)(Args...),
                       const std::vector<std::tuple<std::decay_t<Args>...>>& calls) {
        std::vector<R> results(calls.size());
        if (processes_) {
            std::vector<future<R>> pending;
            pending.reserve(calls.size());
            for (const auto& call : calls) {
                pending.push_back(std::apply([&](const auto&... args) { return processes_->submit(task, args...); }, call));
            }
            for (std::size_t i = 0; i < pending.size(); ++i) results[i] = pending[i].get();
        } else if (backend_ == "threads") {
            // As many threads as workers asked for, more than the cores too.
            const tbb::global_control allow(tbb::global_control::max_allowed_parallelism, workers_);
            tbb::task_arena arena(static_cast<int>(workers_));
            arena.execute([&] {
                tbb::parallel_for(std::size_t{0}, calls.size(), [&](std::size_t i) { results[i] = std::apply(function, calls[i]); });
            });
        } else {
            for (std::size_t i = 0; i < calls.size(); ++i) results[i] = std::apply(function, calls[i]);
        }
        return results;
    }

private:
    std::string backend_;
    unsigned workers_ = 1;
    double start_seconds_ = 0;
    std::unique_ptr<pool> processes_;
};

/// Backs the pages of shared memory that a pointer writes front to back with
/// memory a block at a time, ahead of the writes: one call instead of a page
/// fault per page, which is most of the cost of writing fresh shared memory
/// (Linux 5.14 or later; elsewhere the pages fault in as usual).
class write_ahead {
public:
    /// For writes from `first` up to at most `end`.
    write_ahead(const void* first, const void* end) noexcept;
    /// Call before writing at `position`.
    void reach(const void* position) noexcept {
        if (position >= next_) advance();
    }

private:
    void advance() noexcept;
    const char* next_;
    const char* end_;
};

/// Maps the pages of [first, end) of shared memory into this process in one
/// call, for reading or for writing, instead of one page fault at a time as
/// they are first used; in a worker that has just received a buffer, the
/// faults cost more than the work on the pages.
void map_pages(const void* first, const void* end, bool for_writing) noexcept;

/// "0.4123 s".
std::string format_seconds(double seconds);

runner setup_demo_sum(CLI::App& sub);
runner setup_demo_sort(CLI::App& sub);

}  // namespace strata::cli
