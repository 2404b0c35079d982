// Internal: the system calls the pool layer makes, behind one EINTR-retrying
// macro and wrappers that tests can make fail (fault injection).
#pragma once

#include <sys/types.h>

#include <cerrno>

#include "strata/detail/fault_injection.hpp"

/// Evaluates `call` again while it fails with EINTR; yields its last result.
#define STRATA_RETRY(call)                                 \
    ([&] {                                                 \
        decltype(call) strata_retry_result_;               \
        do {                                               \
            strata_retry_result_ = (call);                 \
        } while (strata_retry_result_ == -1 && errno == EINTR); \
        return strata_retry_result_;                       \
    }())

namespace strata::detail::sys {

using detail::injectable;

/// Returns the injected errno for `call` and consumes one, or 0.
int take_injected_failure(injectable call) noexcept;

int memfd_create(const char* name, unsigned flags) noexcept;
/// A descriptor that becomes readable when process `pid` exits (-1 if unsupported).
int pidfd_open(pid_t pid) noexcept;
pid_t fork() noexcept;

}  // namespace strata::detail::sys
