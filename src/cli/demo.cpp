// `strata demo sum|sort`: the process pool on two classic exercises.
#include "demo.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include <thread>
#include <vector>

#include <fmt/format.h>

#include "validators.hpp"

namespace strata::cli {

void add_demo_options(CLI::App& sub, demo_options& options) {
    sub.add_option("-w,--workers", options.workers, "Worker processes or threads (default: one per core)")
        ->check(whole_number(1, 1024));
    sub.add_option("-b,--backend", options.backend, "Where the work runs")
        ->check(one_of({"processes", "threads", "serial"}))
        ->capture_default_str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

demo_runner::demo_runner(const demo_options& options)
    : backend_(options.backend),
      workers_(options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency())) {
    if (backend_ == "serial") workers_ = 1;
    if (backend_ == "processes") {
        const auto start = std::chrono::steady_clock::now();
        processes_ = std::make_unique<pool>(pool_options{.processes = workers_});
        start_seconds_ = seconds_since(start);
    }
}

std::string demo_runner::describe() const {
    if (backend_ == "serial") return "serial";
    return fmt::format("{}, {} worker{}{}", backend_, workers_, workers_ == 1 ? "" : "s",
                       processes_ ? fmt::format("; the pool started in {} before", format_seconds(start_seconds_)) : "");
}

namespace {

const auto page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
constexpr std::uintptr_t write_ahead_block = std::uintptr_t{1} << 20;

const char* page_down(const void* at) { return reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(at) / page_size * page_size); }

}  // namespace

write_ahead::write_ahead(const void* first, const void* end) noexcept
    : next_(page_down(first)), end_(static_cast<const char*>(end)) {}

void write_ahead::advance() noexcept {
    const char* stop = std::min(next_ + write_ahead_block, end_);
    if (stop > next_) ::madvise(const_cast<char*>(next_), static_cast<std::size_t>(stop - next_), MADV_POPULATE_WRITE);
    next_ = stop;  // at end_, no write can reach it any more
}

void map_pages(const void* first, const void* end, bool for_writing) noexcept {
    const char* begin = page_down(first);
    if (end > begin) {
        ::madvise(const_cast<char*>(begin), static_cast<std::size_t>(static_cast<const char*>(end) - begin),
                  for_writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
    }
}

std::string format_seconds(double seconds) { return fmt::format("{:.4f} s", seconds); }

namespace {

runner setup_demo(CLI::App& sub) {
    sub.require_subcommand(1);
    std::vector<std::pair<CLI::App*, runner>> demos;
    auto* sum = sub.add_subcommand("sum", "Sum 64-bit integers in parallel, one part per worker");
    demos.emplace_back(sum, setup_demo_sum(*sum));
    auto* sort = sub.add_subcommand("sort", "Sort 64-bit integers in parallel: workers sort parts, then merge");
    demos.emplace_back(sort, setup_demo_sort(*sort));
    return [demos] {
        for (const auto& [demo, run] : demos) {
            if (demo->parsed()) return run();
        }
        return static_cast<int>(exit_usage);
    };
}

STRATA_COMMAND("demo", "Parallel sum and sort demos on the process pool", setup_demo);

}  // namespace

}  // namespace strata::cli
