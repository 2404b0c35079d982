// Soak test: many tasks while workers crash at random. Every task must end
// (a result, or worker_lost for exactly the ones that crashed), the pool must
// replace every lost worker, and nothing may be left behind: descriptors,
// child processes, /dev/shm entries. Prints what happened; exit 1 if any
// of that fails.
//   build/release/bench/soak [--tasks 100000] [--crash-percent 1] [--workers 2] [--seed 1] [--json FILE]
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"

namespace {

// Returns x * x, or dies the way `how` says: 1 SIGKILL, 2 abort, 3 _exit(7),
// 4 SIGSEGV.
STRATA_TASK(soak_task, [](std::int64_t x, int how) -> std::int64_t {
    switch (how) {
    case 1: ::raise(SIGKILL); break;
    case 2: std::abort();
    case 3: ::_exit(7);
    case 4: ::raise(SIGSEGV); break;
    default: break;
    }
    return x * x;
});

std::size_t count_entries(const char* folder) {
    std::size_t count = 0;
    if (DIR* d = ::opendir(folder)) {
        while (const dirent* e = ::readdir(d)) count += e->d_name[0] != '.';
        ::closedir(d);
    }
    return count;
}

std::set<std::string> shm_entries() {
    std::set<std::string> names;
    if (DIR* d = ::opendir("/dev/shm")) {
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') names.insert(e->d_name);
        }
        ::closedir(d);
    }
    return names;
}

// Peak resident size of this process so far (VmHWM), in MiB.
double peak_rss_mib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024;
    }
    return 0;
}

bool any_child_left() {
    int status = 0;
    return !(::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
}

}  // namespace

int main(int argc, char** argv) {
    strata::serve_if_worker();
    CLI::App app{"Soak test: tasks while workers crash at random; checks that nothing leaks."};
    std::int64_t tasks = 100'000;
    double crash_percent = 1;
    unsigned workers = 2;
    unsigned seed = 1;
    std::string json_path;
    app.add_option("--tasks", tasks, "Tasks to run")->capture_default_str()->check(CLI::Range(1, 100'000'000));
    app.add_option("--crash-percent", crash_percent, "Share of tasks whose worker dies")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    app.add_option("--workers", workers, "Worker processes")->capture_default_str()->check(CLI::Range(1, 256));
    app.add_option("--seed", seed, "Chooses which tasks crash, and how")->capture_default_str();
    app.add_option("--json", json_path, "Also write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    const std::size_t fds_before = count_entries("/proc/self/fd");
    const auto shm_before = shm_entries();
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<double> chance(0, 100);
    std::vector<int> how(static_cast<std::size_t>(tasks));
    std::int64_t crashes = 0;
    for (auto& h : how) {
        h = chance(random) < crash_percent ? 1 + static_cast<int>(random() % 4) : 0;
        crashes += h != 0;
    }

    std::int64_t completed = 0, failed = 0, wrong = 0, unexpected = 0;
    std::size_t peak_fds = fds_before;
    strata::pool_stats stats;
    const auto started = std::chrono::steady_clock::now();
    {
        strata::pool pool({.processes = workers});
        // Submitted in windows of 2,000 (bounded memory), collected in order.
        constexpr std::int64_t window = 2000;
        for (std::int64_t first = 0; first < tasks; first += window) {
            const std::int64_t last = std::min(tasks, first + window);
            std::vector<strata::future<std::int64_t>> futures;
            futures.reserve(static_cast<std::size_t>(last - first));
            for (std::int64_t i = first; i < last; ++i) futures.push_back(pool.submit(soak_task, i, how[static_cast<std::size_t>(i)]));
            for (std::int64_t i = first; i < last; ++i) {
                const bool crash = how[static_cast<std::size_t>(i)] != 0;
                try {
                    const auto value = futures[static_cast<std::size_t>(i - first)].get();
                    ++completed;
                    wrong += value != i * i || crash;
                } catch (const strata::worker_lost& e) {
                    ++failed;
                    if (!crash) {
                        ++unexpected;
                        fmt::print(stderr, "soak: task {} was not set to crash, yet its worker {} (pid {})\n", i, e.how(), e.worker_pid());
                    }
                }
            }
            peak_fds = std::max(peak_fds, count_entries("/proc/self/fd"));
        }
        stats = pool.stats();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::size_t fds_after = count_entries("/proc/self/fd");
    const bool children_left = any_child_left();
    const auto shm_after = shm_entries();
    const std::uint64_t replaced = stats.workers_started - workers;

    const bool ok = completed + failed == tasks && failed == crashes && wrong == 0 && unexpected == 0 &&
                    replaced == static_cast<std::uint64_t>(crashes) && fds_after == fds_before && !children_left &&
                    shm_after == shm_before;
    fmt::print("tasks {}, {} workers, {:.1f}% set to crash (seed {}): {:.1f} s, {:.0f} tasks/s\n", tasks, workers,
               crash_percent, seed, seconds, static_cast<double>(tasks) / seconds);
    fmt::print("completed {}, failed with worker_lost {} (of {} crashing; {} others), wrong results {}\n", completed,
               failed, crashes, unexpected, wrong);
    fmt::print("workers started {} ({} replacements), lost {}\n", stats.workers_started, replaced, stats.workers_lost);
    fmt::print("descriptors: {} before, peak {}, {} after; children left: {}; /dev/shm entries: {} before, {} after\n",
               fds_before, peak_fds, fds_after, children_left ? "yes" : "none", shm_before.size(), shm_after.size());
    fmt::print("peak RSS of this process: {:.1f} MiB\n", peak_rss_mib());
    fmt::print("{}\n", ok ? "soak: OK, nothing leaked" : "soak: FAILED");
    if (!json_path.empty()) {
        const nlohmann::json report{{"tasks", tasks}, {"workers", workers}, {"crash_percent", crash_percent},
                                    {"seed", seed}, {"seconds", seconds}, {"completed", completed},
                                    {"failed", failed}, {"crashing", crashes}, {"unexpected_failures", unexpected},
                                    {"wrong_results", wrong}, {"workers_started", stats.workers_started},
                                    {"replacements", replaced}, {"fds_before", fds_before}, {"fds_peak", peak_fds},
                                    {"fds_after", fds_after}, {"children_left", children_left},
                                    {"shm_before", shm_before.size()}, {"shm_after", shm_after.size()},
                                    {"peak_rss_mib", peak_rss_mib()}, {"ok", ok}};
        std::ofstream(json_path) << report.dump(2) << "\n";
    }
    return ok ? 0 : 1;
}
