// Pool.Lifetime: workers never outlive a parent killed with SIGKILL.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "support/paths.hpp"
#include "support/scenarios.hpp"
#include "support/subprocess.hpp"
#include "tasks.hpp"

namespace {

// The parent to be killed: starts a pool, prints its pid and the workers'
// pids, then blocks in a long task.
const bool registered = strata::test::add_scenario("pool_then_sleep", [] {
    strata::pool workers({.processes = 2});
    std::printf("%d", static_cast<int>(::getpid()));
    for (int pid : workers.worker_pids()) std::printf(" %d", pid);
    std::printf("\n");
    std::fflush(stdout);
    workers.apply(pool_tasks::sleep_ms, 60'000);
    return 0;
});

// Running (a zombie has exited; who reaps an orphan is up to the system).
bool alive(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close_paren = text.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < text.size() && text[close_paren + 2] != 'Z';
}

}  // namespace

TEST_CASE("Pool.Lifetime.workers exit within a second of their parent's SIGKILL") {
    // Run the scenario in a child of ours, reading its first line.
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const pid_t parent = ::fork();
    REQUIRE(parent >= 0);
    if (parent == 0) {
        ::dup2(out[1], 1);
        ::close(out[0]);
        ::setenv("STRATA_TEST_SCENARIO", "pool_then_sleep", 1);
        ::execl("/proc/self/exe", "pool_tests", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c = 0;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    std::istringstream fields(line);
    int reported_parent = 0;
    fields >> reported_parent;
    std::vector<int> worker_pids;
    for (int pid = 0; fields >> pid;) worker_pids.push_back(pid);
    REQUIRE(reported_parent == parent);
    REQUIRE(worker_pids.size() == 2);
    for (int pid : worker_pids) CHECK(alive(pid));

    ::kill(parent, SIGKILL);
    int status = 0;
    ::waitpid(parent, &status, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    bool all_gone = false;
    while (!all_gone && std::chrono::steady_clock::now() < deadline) {
        all_gone = std::none_of(worker_pids.begin(), worker_pids.end(), alive);
        if (!all_gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(all_gone);
}
