// `strata demo`: the parallel sum and sort demos, and what they share.
#pragma once

#include <chrono>
#include <string>

#include <CLI/CLI.hpp>

#include "command.hpp"

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

runner setup_demo_sum(CLI::App& sub);
runner setup_demo_sort(CLI::App& sub);

}  // namespace strata::cli
