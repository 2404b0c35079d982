// Runs a program to completion for a test: feeds stdin, captures stdout,
// stderr and the exit status, and kills it if it overruns a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace strata::test {

struct run_result {
    int exit_code = -1;    ///< exit status, or -signal when killed by a signal
    std::string out;
    std::string err;
    bool timed_out = false;
};

/// What to do besides waiting, for a test that acts on a running program.
struct while_running {
    /// Called on its own thread with the program's pid once it started; the
    /// program runs in its own process group (pid), as a shell job would.
    std::function<void(pid_t)> action;
};

run_result run(const std::vector<std::string>& argv, const std::string& input = {},
               std::chrono::milliseconds deadline = std::chrono::seconds(60), const while_running& meanwhile = {});

}  // namespace strata::test

namespace strata::test {

/// True if `text` contains `part` (for checking what a program printed).
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Runs the strata program under test with `args`.
run_result run_strata(std::vector<std::string> args, const std::string& input = {});

/// Runs the strata program under test with `args`, calling `action` with its
/// pid (and process group) while it runs.
run_result run_strata_while(std::vector<std::string> args, std::function<void(pid_t)> action);

}  // namespace strata::test
