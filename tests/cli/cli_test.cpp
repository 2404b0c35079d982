// Cli: the strata program's global flags, exit codes and usage errors.
#include <doctest/doctest.h>

#include <string>

#include "strata/version.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"

using strata::test::run_strata;

TEST_CASE("Cli.Version.prints the library version and exits 0") {
    const auto result = run_strata({"--version"});
    CHECK(result.exit_code == 0);
    CHECK(result.out == "strata " + std::string(strata::version()) + "\n");
    CHECK(result.err.empty());
}

TEST_CASE("Cli.Help.lists every command and exits 0") {
    const auto result = run_strata({"--help"});
    CHECK(result.exit_code == 0);
    CHECK(result.out.find("Usage: strata") != std::string::npos);
    CHECK(result.out.find("info") != std::string::npos);
    CHECK(result.out.find("--version") != std::string::npos);
}

TEST_CASE("Cli.Usage.an unknown command exits 2 and suggests the nearest") {
    const auto result = run_strata({"inf0", "x.jpg"});
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(result.err.find("unknown command 'inf0'") != std::string::npos);
    CHECK(result.err.find("did you mean 'info'?") != std::string::npos);
}

TEST_CASE("Cli.Usage.an unknown command far from any known one gets no suggestion") {
    const auto result = run_strata({"frobnicate"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("unknown command 'frobnicate'") != std::string::npos);
    CHECK(result.err.find("did you mean") == std::string::npos);
}

TEST_CASE("Cli.Usage.no command exits 2 naming the commands") {
    const auto result = run_strata({});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("no command given; one of: apply, batch, bench, demo, filters, info") != std::string::npos);
}

TEST_CASE("Cli.Usage.an unknown option exits 2 naming the option and command") {
    const auto result = run_strata({"info", "--bogus", "x.jpg"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("strata info:") != std::string::npos);
    CHECK(result.err.find("--bogus") != std::string::npos);
}
