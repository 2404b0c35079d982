// How a worker process is made: shared by the pool and strata::process.
#pragma once

#include "strata/export.hpp"

namespace strata {

/// How worker processes are made.
enum class start_method {
    fork,       ///< copy this process (fast); refused when it runs several threads
    spawn,      ///< start worker_program afresh; works from any process
    automatic,  ///< fork while this process has one thread, otherwise spawn
};

/// Number of threads this process runs now (from /proc/self/task): what
/// start_method::automatic looks at.
STRATA_API unsigned thread_count();

}  // namespace strata
