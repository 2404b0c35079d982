// Registry of self-relaunch scenarios.
#include "scenarios.hpp"

#include <cstdlib>
#include <cstdio>
#include <map>

namespace strata::test {

namespace {
std::map<std::string, std::function<int()>>& scenarios() {
    static std::map<std::string, std::function<int()>> all;
    return all;
}
}  // namespace

bool add_scenario(const std::string& name, std::function<int()> body) {
    scenarios()[name] = std::move(body);
    return true;
}

int run_scenario_if_requested() {
    const char* name = std::getenv("STRATA_TEST_SCENARIO");
    if (name == nullptr) return -1;
    const auto found = scenarios().find(name);
    if (found == scenarios().end()) {
        std::fprintf(stderr, "unknown test scenario '%s'\n", name);
        return 2;
    }
    return found->second();
}

}  // namespace strata::test
