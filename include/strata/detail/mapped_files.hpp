// Reading files through a memory mapping without dying when they shrink.
#pragma once

#include "strata/export.hpp"

namespace strata::detail {

/// A file cut short while mapped makes the next read of a page past its new
/// end raise SIGBUS, which would end the process. This installs a handler
/// that maps a page of zeros there instead, so the read goes on; the caller
/// then notices that the file's size changed and fails in words. It is
/// installed only where SIGBUS has its default action (a program's own
/// handler is left alone); call it in every process that maps files (a
/// forked worker starts with default actions).
STRATA_API void guard_mapped_files() noexcept;

}  // namespace strata::detail
