// The registry of strata's subcommands: each src/cli/<name>.cpp adds itself.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace strata::cli {

/// Exit codes shared by every subcommand.
enum exit_code : int {
    exit_ok = 0,
    exit_failure = 1,  ///< the job ran and something in it failed
    exit_usage = 2,    ///< the command line was wrong; nothing was done
};

/// Runs a parsed subcommand and returns its exit code.
using runner = std::function<int()>;

/// Declares a subcommand's options on `sub` (already named and described)
/// and returns the function that runs it once the command line is parsed.
using setup_function = std::function<runner(CLI::App& sub)>;

struct command {
    std::string_view name;
    std::string_view summary;
    setup_function setup;
};

/// Every registered subcommand, in registration order.
std::vector<command>& registry();

/// Adds a subcommand; used through STRATA_COMMAND at namespace scope.
bool register_command(command entry);

}  // namespace strata::cli

#define STRATA_CLI_CONCAT_(a, b) a##b
#define STRATA_CLI_CONCAT(a, b) STRATA_CLI_CONCAT_(a, b)

/// STRATA_COMMAND("info", "Describe image files", setup_info);
#define STRATA_COMMAND(name, summary, setup)                                  \
    [[maybe_unused]] static const bool STRATA_CLI_CONCAT(strata_command_, __LINE__) = \
        ::strata::cli::register_command({name, summary, setup})
