// strata's command-line entry point: global flags, subcommand dispatch, exit codes.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "strata/detail/resource_hint.hpp"
#include "strata/detail/suggest.hpp"
#include "strata/error.hpp"
#include "strata/pool.hpp"
#include "strata/version.hpp"

namespace {

using namespace strata::cli;

std::vector<std::string> command_names() {
    std::vector<std::string> names;
    for (const auto& entry : registry()) names.emplace_back(entry.name);
    return names;
}

// CLI11 reports an unknown subcommand as "arguments were not expected"; say
// what went wrong in the user's terms instead.
int unknown_command(const std::string& word) {
    const auto close = strata::detail::closest_names(word, command_names());
    std::string hint;
    if (!close.empty()) hint = fmt::format(" (did you mean '{}'?)", fmt::join(close, "' or '"));
    fmt::print(stderr, "strata: unknown command '{}'{}\nKnown commands: {}. Run 'strata --help' for details.\n",
               word, hint, fmt::join(command_names(), ", "));
    return exit_usage;
}

int usage_error(const CLI::App& app, const CLI::ParseError& e) {
    const auto chosen = app.get_subcommands();
    if (chosen.empty()) {
        if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
            fmt::print(stderr, "strata: no command given; one of: {}. Run 'strata --help' for details.\n",
                       fmt::join(command_names(), ", "));
        } else {
            fmt::print(stderr, "strata: {}\nRun 'strata --help' for details.\n", e.what());
        }
    } else {
        const std::string name = chosen.front()->get_name();
        fmt::print(stderr, "strata {}: {}\nRun 'strata {} --help' for its options.\n", name, e.what(), name);
    }
    return exit_usage;
}

// Workers, shared images and outputs each take descriptors: allow as many as
// the hard limit does (the soft one is often 1024), as servers do.
void raise_open_file_limit() {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
}

}  // namespace

int main(int argc, char** argv) {
    strata::serve_if_worker();  // a spawned pool worker serves tasks and never returns
    raise_open_file_limit();
    CLI::App app{"strata: filter and convert images in parallel, strip by strip, in worker processes.",
                 "strata"};
    app.set_version_flag("--version", fmt::format("strata {}", strata::version()),
                         "Print the version and exit");
    app.require_subcommand(1);
    app.footer("Run 'strata COMMAND --help' for the options of one command.");

    // Alphabetical, whatever order the command files were linked in.
    std::sort(registry().begin(), registry().end(), [](const command& a, const command& b) { return a.name < b.name; });
    std::vector<std::pair<CLI::App*, runner>> commands;
    for (const auto& entry : registry()) {
        CLI::App* sub = app.add_subcommand(std::string(entry.name), std::string(entry.summary));
        commands.emplace_back(sub, entry.setup(*sub));
    }

    // The top level takes no option values, so its first word that is not a
    // flag names the command.
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.starts_with('-')) continue;
        const auto names = command_names();
        if (std::find(names.begin(), names.end(), word) == names.end()) return unknown_command(word);
        break;
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return usage_error(app, e);
    }

    for (auto& [sub, run] : commands) {
        if (!sub->parsed()) continue;
        try {
            return run();
        } catch (const strata::error& e) {
            fmt::print(stderr, "strata {}: {}\n", sub->get_name(), strata::detail::with_resource_hint(e.what()));
            return exit_failure;
        } catch (const std::bad_alloc&) {
            fmt::print(stderr, "strata {}: {}\n", sub->get_name(), strata::detail::with_resource_hint("out of memory"));
            return exit_failure;
        } catch (const std::system_error& e) {
            // The system refused something (a thread, a file): say which limit.
            const bool no_thread = e.code() == std::errc::resource_unavailable_try_again;
            fmt::print(stderr, "strata {}: {}{}\n", sub->get_name(), no_thread ? "cannot start a thread or process: " : "",
                       strata::detail::with_resource_hint(e.what()));
            return exit_failure;
        } catch (const std::exception& e) {
            fmt::print(stderr, "strata {}: unexpected failure: {}\n", sub->get_name(),
                       strata::detail::with_resource_hint(e.what()));
            return exit_failure;
        }
    }
    return exit_usage;  // unreachable: require_subcommand(1) guarantees one
}
