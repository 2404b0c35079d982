// How much memory this process may use, from the machine, its cgroup and
// its resource limits.
#pragma once

#include <cstdint>
#include <string>

#include "strata/export.hpp"

namespace strata {

/// The memory this process may use and what sets it.
struct memory_limit {
    std::uint64_t bytes = 0;
    /// "physical memory", "cgroup memory.max (/sys/fs/cgroup/...)",
    /// "cgroup memory.limit_in_bytes (...)", or "RLIMIT_AS (ulimit -v)".
    std::string source;
};

/// The smallest of: the physical memory, the memory limit of this process's
/// cgroup and of every cgroup above it (v2 memory.max, v1
/// memory.limit_in_bytes), and RLIMIT_AS. Thread-safe.
STRATA_API memory_limit usable_memory();

/// "512 bytes", "3.5 MiB", "1.0 GiB": sizes as messages give them.
STRATA_API std::string describe_bytes(std::uint64_t bytes);

}  // namespace strata
