// Pool overheads: task round trips (submit + get) and map throughput.
//   build/release/bench/pool_bench --workers 2 --rounds 5 [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"

namespace {

STRATA_TASK(bench_increment, [](std::int64_t x) { return x + 1; });

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

struct measurement {
    std::string name;
    std::string unit;
    std::vector<double> rates;
};

}  // namespace

int main(int argc, char** argv) {
    strata::serve_if_worker();
    CLI::App app{"Measures the process pool: task round trips and map throughput."};
    unsigned workers = 2;
    int rounds = 5;
    std::int64_t tasks = 200'000;
    std::int64_t items = 10'000'000;
    std::string json_path;
    std::string start = "automatic";
    app.add_option("--workers", workers, "Worker processes")->capture_default_str()->check(CLI::Range(1, 256));
    app.add_option("--rounds", rounds, "Timed repetitions (after one warm-up)")->capture_default_str()->check(CLI::Range(1, 1000));
    app.add_option("--tasks", tasks, "Tasks per round trip measurement")->capture_default_str()->check(CLI::Range(1, 100'000'000));
    app.add_option("--items", items, "Items per map")->capture_default_str()->check(CLI::Range(1, 1'000'000'000));
    app.add_option("--start", start, "fork, spawn or automatic")->check(CLI::IsMember({"fork", "spawn", "automatic"}))->capture_default_str();
    app.add_option("--json", json_path, "Also write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    const auto method = start == "fork" ? strata::start_method::fork
                        : start == "spawn" ? strata::start_method::spawn
                                           : strata::start_method::automatic;
    strata::pool pool({.processes = workers, .start = method});
    std::vector<std::int64_t> inputs(static_cast<std::size_t>(items));
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<std::int64_t>(i);

    measurement batch{"submit+get, all submitted then all collected", "tasks/s", {}};
    measurement ping{"submit+get, one at a time", "tasks/s", {}};
    measurement map{"map, automatic chunks", "items/s", {}};
    for (int round = 0; round <= rounds; ++round) {
        auto begin = clock_type::now();
        std::vector<strata::future<std::int64_t>> futures;
        futures.reserve(static_cast<std::size_t>(tasks));
        for (std::int64_t i = 0; i < tasks; ++i) futures.push_back(pool.submit(bench_increment, i));
        std::int64_t check = 0;
        for (auto& f : futures) check += f.get();
        const double batch_seconds = seconds_since(begin);
        if (check != tasks * (tasks + 1) / 2) throw std::runtime_error("wrong round-trip results");

        const std::int64_t serial_tasks = std::max<std::int64_t>(1, tasks / 10);
        begin = clock_type::now();
        for (std::int64_t i = 0; i < serial_tasks; ++i) pool.submit(bench_increment, i).get();
        const double ping_seconds = seconds_since(begin);

        begin = clock_type::now();
        const auto results = pool.map(bench_increment, inputs);
        const double map_seconds = seconds_since(begin);
        if (results.size() != inputs.size() || results.back() != items) throw std::runtime_error("wrong map results");

        if (round == 0) continue;  // warm-up
        batch.rates.push_back(static_cast<double>(tasks) / batch_seconds);
        ping.rates.push_back(static_cast<double>(serial_tasks) / ping_seconds);
        map.rates.push_back(static_cast<double>(items) / map_seconds);
    }

    nlohmann::json report = {{"workers", workers}, {"rounds", rounds}, {"start", start}, {"results", nlohmann::json::array()}};
    fmt::print("{:<48} {:>14} {:>14} {:>14}\n", "measurement", "median", "min", "max");
    for (auto* m : {&batch, &ping, &map}) {
        std::sort(m->rates.begin(), m->rates.end());
        const double median = m->rates[m->rates.size() / 2];
        fmt::print("{:<48} {:>14.0f} {:>14.0f} {:>14.0f}  {}\n", m->name, median, m->rates.front(), m->rates.back(), m->unit);
        report["results"].push_back({{"name", m->name}, {"unit", m->unit}, {"median", median},
                                     {"min", m->rates.front()}, {"max", m->rates.back()}});
    }
    if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << "\n";
    return 0;
}
