// Runs a program to completion for a test: feeds stdin, captures stdout,
// stderr and the exit status, and kills it if it overruns a deadline.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace strata::test {

struct run_result {
    int exit_code = -1;    ///< exit status, or -signal when killed by a signal
    std::string out;
    std::string err;
    bool timed_out = false;
};

run_result run(const std::vector<std::string>& argv, const std::string& input = {},
               std::chrono::milliseconds deadline = std::chrono::seconds(60));

}  // namespace strata::test

namespace strata::test {

/// True if `text` contains `part` (for checking what a program printed).
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Runs the strata program under test with `args`.
run_result run_strata(std::vector<std::string> args, const std::string& input = {});

}  // namespace strata::test
