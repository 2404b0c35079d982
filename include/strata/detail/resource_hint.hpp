// Failures caused by a process limit say which limit, and its value.
#pragma once

#include <string>

#include "strata/export.hpp"

namespace strata::detail {

/// `message` with a hint appended when it reports running out of a limited
/// resource: open files (EMFILE: "ulimit -n is 1024"), processes or threads
/// (EAGAIN: "ulimit -u"), memory (ENOMEM, std::bad_alloc: "ulimit -v", the
/// cgroup's limit). Other messages come back as they are.
STRATA_API std::string with_resource_hint(std::string message);

}  // namespace strata::detail
