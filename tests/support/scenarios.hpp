// Test programs that relaunch themselves: STRATA_TEST_SCENARIO=name makes the
// program run one registered scenario instead of the tests (for tests that
// need a separate parent process, e.g. to kill it).
#pragma once

#include <functional>
#include <string>

namespace strata::test {

/// Registers a scenario; returns true (for use at namespace scope).
bool add_scenario(const std::string& name, std::function<int()> body);

/// Runs the scenario named in STRATA_TEST_SCENARIO and returns its exit
/// code, or -1 when none was asked for.
int run_scenario_if_requested();

}  // namespace strata::test
