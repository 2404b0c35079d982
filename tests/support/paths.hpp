// Where the tests find the bundled test data and the built strata program.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace strata::test {

inline std::filesystem::path env_path(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        throw std::runtime_error(std::string(name) + " is not set; run the tests through `meson test`");
    }
    return value;
}

/// The repository's testdata/ folder.
inline std::filesystem::path testdata() { return env_path("STRATA_TESTDATA"); }

/// The strata executable under test.
inline std::filesystem::path strata_exe() { return env_path("STRATA_EXE"); }

}  // namespace strata::test
