// The doctest runner shared by strata's test programs. A test program can be
// spawned as a pool worker, so it serves tasks when asked to, first thing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>

#include <doctest/doctest.h>

#include "strata/pool.hpp"
#include "support/listener_failures.hpp"
#include "support/scenarios.hpp"

int main(int argc, char** argv) {
    strata::serve_if_worker();
    if (const int code = strata::test::run_scenario_if_requested(); code >= 0) return code;
    doctest::Context context(argc, argv);
    const int failed = context.run();
    if (strata::test::listener_failures > 0) {
        std::fprintf(stderr, "%d test(s) left something behind (see 'leak after test' above)\n",
                     strata::test::listener_failures.load());
        return failed != 0 ? failed : 1;
    }
    return failed;
}
