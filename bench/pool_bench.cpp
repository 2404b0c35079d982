// Pool overheads: task round trips (submit + get) and map throughput, and the
// one-at-a-time round trip beside the bare transport's (a SEQPACKET
// ping-pong between two processes, what the pool's channel is), on an idle
// machine and with another process keeping a core busy.
//   build/release/bench/pool_bench --workers 2 --rounds 5 [--json FILE]
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/// A child process that answers every packet on a SEQPACKET socket with the
/// same bytes: the transport the pool's channel uses, with nothing around it.
class echo_process {
public:
    echo_process() {
        int ends[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) throw std::runtime_error("socketpair");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::close(ends[0]);
            char packet[256];
            while (true) {
                const ssize_t got = ::recv(ends[1], packet, sizeof packet, 0);
                if (got <= 0 || ::send(ends[1], packet, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) ::_exit(0);
            }
        }
        ::close(ends[1]);
        socket_ = ends[0];
    }
    ~echo_process() {
        ::close(socket_);
        ::waitpid(pid_, nullptr, 0);
    }
    echo_process(const echo_process&) = delete;
    echo_process& operator=(const echo_process&) = delete;

    /// Round trips per second, one at a time, of a packet as large as a small task's.
    double round_trips(std::int64_t count) const {
        char packet[64] = {};
        const auto begin = clock_type::now();
        for (std::int64_t i = 0; i < count; ++i) {
            if (::send(socket_, packet, sizeof packet, 0) != sizeof packet || ::recv(socket_, packet, sizeof packet, 0) <= 0) {
                throw std::runtime_error("echo round trip");
            }
        }
        return static_cast<double>(count) / seconds_since(begin);
    }

private:
    pid_t pid_ = -1;
    int socket_ = -1;
};

/// A process that keeps one core busy while it lives.
class busy_process {
public:
    busy_process() : pid_(::fork()) {
        if (pid_ == 0) {
            volatile std::uint64_t spin = 0;
            while (true) spin = spin + 1;
        }
    }
    ~busy_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    busy_process(const busy_process&) = delete;
    busy_process& operator=(const busy_process&) = delete;

private:
    pid_t pid_;
};

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
    // Forked before the pool starts its threads.
    const echo_process echo;
    strata::pool pool({.processes = workers, .start = method});
    std::vector<std::int64_t> inputs(static_cast<std::size_t>(items));
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<std::int64_t>(i);

    measurement batch{"submit+get, all submitted then all collected", "tasks/s", {}};
    measurement ping{"submit+get, one at a time", "tasks/s", {}};
    measurement map{"map, automatic chunks", "items/s", {}};
    measurement bare{"bare SEQPACKET ping-pong, one at a time", "trips/s", {}};
    measurement ping_busy{"submit+get, one at a time, a core kept busy", "tasks/s", {}};
    measurement bare_busy{"bare ping-pong, a core kept busy", "trips/s", {}};
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

        // The bare transport, and both again beside a busy core, in the same round.
        const double bare_rate = echo.round_trips(serial_tasks);
        double ping_busy_rate = 0;
        double bare_busy_rate = 0;
        {
            const busy_process busy;
            begin = clock_type::now();
            for (std::int64_t i = 0; i < serial_tasks; ++i) pool.submit(bench_increment, i).get();
            ping_busy_rate = static_cast<double>(serial_tasks) / seconds_since(begin);
            bare_busy_rate = echo.round_trips(serial_tasks);
        }

        if (round == 0) continue;  // warm-up
        batch.rates.push_back(static_cast<double>(tasks) / batch_seconds);
        ping.rates.push_back(static_cast<double>(serial_tasks) / ping_seconds);
        bare.rates.push_back(bare_rate);
        ping_busy.rates.push_back(ping_busy_rate);
        bare_busy.rates.push_back(bare_busy_rate);
        map.rates.push_back(static_cast<double>(items) / map_seconds);
    }

    nlohmann::json report = {{"workers", workers}, {"rounds", rounds}, {"start", start}, {"results", nlohmann::json::array()}};
    fmt::print("{:<48} {:>14} {:>14} {:>14}\n", "measurement", "median", "min", "max");
    const auto median = [](const measurement& m) { return m.rates[m.rates.size() / 2]; };
    for (auto* m : {&batch, &ping, &bare, &ping_busy, &bare_busy, &map}) {
        std::sort(m->rates.begin(), m->rates.end());
        fmt::print("{:<48} {:>14.0f} {:>14.0f} {:>14.0f}  {}\n", m->name, median(*m), m->rates.front(), m->rates.back(), m->unit);
        report["results"].push_back({{"name", m->name}, {"unit", m->unit}, {"median", median(*m)},
                                     {"min", m->rates.front()}, {"max", m->rates.back()}});
    }
    // A round trip's cost is the inverse of its rate: how many bare trips one pool task costs.
    const double idle_cost = median(bare) / median(ping);
    const double busy_cost = median(bare_busy) / median(ping_busy);
    fmt::print("\none task at a time costs {:.2f} bare round trips on an idle machine, {:.2f} with a core kept busy "
               "(the pool's rate is {:.0f} % and {:.0f} % of the transport's)\n",
               idle_cost, busy_cost, 100 / idle_cost, 100 / busy_cost);
    report["pool_cost_in_bare_round_trips"] = {{"idle", idle_cost}, {"busy", busy_cost}};
    if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << "\n";
    return 0;
}
