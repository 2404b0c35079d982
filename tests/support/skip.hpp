// Tests that need something this machine may not have (root, a cgroup, a
// tool) end as skipped, never as passed.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

namespace strata::test {

/// Ends the test as skipped. meson runs each such test on its own with
/// STRATA_SKIP_EXIT=77, and the program then exits 77, which meson counts as
/// skipped. Run by hand (no variable), it prints why and returns: the caller
/// returns too.
inline void skip(const std::string& reason) {
    std::fprintf(stderr, "SKIPPED: %s\n", reason.c_str());
    if (const char* code = std::getenv("STRATA_SKIP_EXIT")) {
        std::fflush(nullptr);
        std::_Exit(std::atoi(code));
    }
    MESSAGE("skipped: " << reason);
}

}  // namespace strata::test
