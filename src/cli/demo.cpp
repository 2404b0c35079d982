// `strata demo sum|sort`: the process pool on two classic exercises.
#include "demo.hpp"

#include <memory>
#include <thread>
#include <vector>

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

namespace {

runner setup_demo(CLI::App& sub) {
    sub.require_subcommand(1);
    std::vector<std::pair<CLI::App*, runner>> demos;
    auto* sum = sub.add_subcommand("sum", "Sum 64-bit integers in parallel, one chunk per worker");
    demos.emplace_back(sum, setup_demo_sum(*sum));
    auto* sort = sub.add_subcommand("sort", "Sort 64-bit integers in parallel: workers sort slices, then merge");
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
