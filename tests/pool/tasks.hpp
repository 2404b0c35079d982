// Tasks the pool tests run, registered in the test program (so spawned
// workers, which run this same program, have them too).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "strata/strata.hpp"

namespace pool_tasks {

struct point {
    std::int32_t x = 0;
    double y = 0;
    std::string label;
    auto fields() { return std::tie(x, y, label); }
    bool operator==(const point&) const = default;
};

inline int initialised_value = 0;
/// A lock that a task takes and that a thread of the parent may hold.
inline std::mutex parent_lock;

STRATA_TASK(square, [](std::int64_t x) { return x * x; });
STRATA_TASK(square_under_lock, [](std::int64_t x) {
    std::lock_guard hold(parent_lock);
    return x * x;
});
STRATA_TASK(add, [](std::int64_t a, std::int64_t b) { return a + b; });
STRATA_TASK(nothing, [] {});
STRATA_TASK(worker_pid, [] { return static_cast<std::int32_t>(::getpid()); });
STRATA_TASK(fail_with, [](std::string message) -> int { throw std::invalid_argument(message); });
STRATA_TASK(fail_if_negative, [](std::int64_t x) {
    if (x < 0) throw std::domain_error("negative: " + std::to_string(x));
    return x;
});
STRATA_TASK(crash_abort, [] { std::abort(); });
STRATA_TASK(crash_exit, [](int code) { ::_exit(code); });
STRATA_TASK(crash_signal, [](int signal_number) { ::raise(signal_number); });
// Appends this worker's pid to the file $STRATA_TEST_PID_LOG names (a worker
// that ran a task has started), then returns x * x a little later.
STRATA_TASK(slow_square, [](std::int64_t x) {
    if (const char* log = std::getenv("STRATA_TEST_PID_LOG")) {
        const int fd = ::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        const std::string line = std::to_string(::getpid()) + "\n";
        if (fd >= 0) {
            (void)!::write(fd, line.data(), line.size());
            ::close(fd);
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    return x * x;
});
STRATA_TASK(square_or_exit, [](std::int64_t x, bool exit) {
    if (exit) ::_exit(7);
    return x * x;
});
STRATA_TASK(sleep_ms, [](int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ms;
});
STRATA_TASK(describe, [](std::string name, std::vector<double> values, std::map<std::string, int> counts,
                         std::tuple<int, std::string> pair, point p) {
    double total = 0;
    for (double v : values) total += v;
    int count_total = 0;
    for (const auto& [key, count] : counts) count_total += count;
    return point{p.x + std::get<0>(pair) + count_total, p.y + total, name + "/" + std::get<1>(pair) + "/" + p.label};
});
STRATA_TASK(fill_buffer, [](strata::shared_array<std::int64_t> numbers, std::int64_t value) {
    for (auto& n : numbers) n = value;
    return static_cast<std::int64_t>(numbers.size());
});
STRATA_TASK(make_buffer, [](std::int64_t count) {
    strata::shared_array<std::int64_t> numbers(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) numbers[static_cast<std::size_t>(i)] = i * 3;
    return numbers;
});
STRATA_TASK(count_up, [](strata::shared_value<std::int64_t> counter, int times) {
    for (int i = 0; i < times; ++i) counter.update([](std::int64_t& c) { ++c; });
});
STRATA_TASK(set_initialised, [] { initialised_value = 42; });
STRATA_TASK(failing_initializer, [] { throw std::runtime_error("no database"); });
STRATA_TASK(read_initialised, [] { return initialised_value; });
// Joins the memory cgroup at `cgroup` (v1 or v2 folder) and allocates far past its limit.
STRATA_TASK(exhaust_memory_in, [](std::string cgroup) {
    std::FILE* procs = std::fopen((cgroup + "/cgroup.procs").c_str(), "w");
    if (procs == nullptr) throw std::runtime_error("cannot join " + cgroup);
    std::fprintf(procs, "%d\n", static_cast<int>(::getpid()));
    std::fclose(procs);
    std::vector<std::vector<char>> hog;
    for (int i = 0; i < 64; ++i) hog.emplace_back(std::size_t{16} << 20, 'x');  // 1 GiB, touched
    return static_cast<std::int64_t>(hog.size());
});
STRATA_TASK(big_echo, [](std::vector<std::int64_t> values) { return values; });

}  // namespace pool_tasks
