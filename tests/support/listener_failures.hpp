// Failures found by doctest listeners (outside any assertion); the runner's
// exit code counts them.
#pragma once

#include <atomic>

namespace strata::test {

inline std::atomic<int> listener_failures{0};

}  // namespace strata::test
