// Hidden temporary files that a signal must not leave behind.
#pragma once

#include <string_view>

#include "strata/export.hpp"

namespace strata::detail {

/// Records a temporary file (`name` in the open folder `folder`) for as long
/// as it exists under that name, so that a SIGTERM, SIGINT or SIGHUP that
/// ends the process removes it first. While a guard lives, the process has a
/// handler for each of those signals whose action was the default (a
/// program's own handler is left alone: it should call
/// remove_temporary_files() before it ends the process). Thread-safe.
class STRATA_API temporary_file_guard {
public:
    temporary_file_guard(int folder, std::string_view name) noexcept;
    ~temporary_file_guard();
    temporary_file_guard(const temporary_file_guard&) = delete;
    temporary_file_guard& operator=(const temporary_file_guard&) = delete;

    /// The file now has its final name (or was removed): forget it.
    void release() noexcept;

private:
    int slot_ = -1;
};

/// Unlinks every temporary file a guard records. Async-signal-safe: for a
/// signal handler about to end the process.
STRATA_API void remove_temporary_files() noexcept;

}  // namespace strata::detail
