// Test hook: make the pool's next system calls fail, to test failure paths.
#pragma once

#include "strata/export.hpp"

namespace strata::detail {

/// System calls that can be made to fail.
enum class injectable { memfd_create, fork, spawn };

/// Makes the next `count` calls of `call` in this process fail with
/// `error_number`. For tests only.
STRATA_API void inject_failure(injectable call, int error_number, int count = 1) noexcept;

}  // namespace strata::detail
