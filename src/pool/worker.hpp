// Internal: the loop a worker process runs, for forked and spawned workers alike.
#pragma once

#include <sys/types.h>

#include <string>

namespace strata::detail {

/// Environment variables that tell a spawned program it is a worker.
inline constexpr const char* worker_channel_variable = "STRATA_WORKER_CHANNEL";
inline constexpr const char* worker_parent_variable = "STRATA_WORKER_PARENT";
inline constexpr const char* worker_initializer_variable = "STRATA_WORKER_INITIALIZER";

/// Serves tasks arriving on `channel` until told to stop or the parent goes
/// away, then exits the process. Never returns.
[[noreturn]] void worker_main(int channel, pid_t parent, const std::string& initializer) noexcept;

/// True in a process that was spawned as a worker (the variables are set).
bool spawned_as_worker() noexcept;

}  // namespace strata::detail
