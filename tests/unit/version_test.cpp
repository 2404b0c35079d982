// Version: the library reports the version meson built it with.
#include <doctest/doctest.h>

#include <string>

#include "strata/strata.hpp"

TEST_CASE("Version.Library.matches the version meson configured") {
    CHECK(strata::version() == STRATA_EXPECTED_VERSION);
    CHECK(strata::version() == STRATA_VERSION);
}

TEST_CASE("Version.Macros.agree with the version string") {
    const std::string expected = std::to_string(STRATA_VERSION_MAJOR) + "." + std::to_string(STRATA_VERSION_MINOR) +
                                 "." + std::to_string(STRATA_VERSION_PATCH);
    CHECK(expected == STRATA_VERSION);
}
