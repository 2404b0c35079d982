// Internal: the loop a worker process runs, for forked and spawned workers alike.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace strata::detail {

/// Environment variables that tell a spawned program it is a worker.
inline constexpr const char* worker_channel_variable = "STRATA_WORKER_CHANNEL";
inline constexpr const char* worker_parent_variable = "STRATA_WORKER_PARENT";
inline constexpr const char* worker_initializer_variable = "STRATA_WORKER_INITIALIZER";
inline constexpr const char* worker_role_variable = "STRATA_WORKER_ROLE";

/// What a worker process is for.
enum class worker_role {
    pool,     ///< serves tasks until stopped; dies with its parent; ignores Ctrl-C
    process,  ///< a strata::process: runs one task, exit code 0 or 1
    daemon,   ///< a daemon strata::process: the same, and dies with its parent
};

/// Serves tasks arriving on `channel` (a pool worker until told to stop or
/// the parent goes away; a process for one task), then exits. Never returns.
[[noreturn]] void worker_main(int channel, pid_t parent, const std::string& initializer, worker_role role) noexcept;

/// Starts a worker by fork (closing `close_in_child` in the child) or by
/// spawning `program`; its end of the channel is `child_end`. Throws start_error.
pid_t launch_worker(bool fork, const std::string& program, int child_end, const std::vector<int>& close_in_child,
                    const std::string& initializer, worker_role role);

/// True in a process that was spawned as a worker (the variables are set).
bool spawned_as_worker() noexcept;

/// True once main() has called serve_if_worker(): the program can be
/// spawned as a worker.
bool program_serves_workers() noexcept;

}  // namespace strata::detail
