// A fresh folder under /tmp for one test, removed with everything in it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <iterator>
#include <string>

namespace strata::test {

struct temp_folder {
    std::filesystem::path path;
    temp_folder() {
        std::string pattern = (std::filesystem::temp_directory_path() / "strata-test-XXXXXX").string();
        path = ::mkdtemp(pattern.data());
    }
    ~temp_folder() { std::filesystem::remove_all(path); }
    temp_folder(const temp_folder&) = delete;
    temp_folder& operator=(const temp_folder&) = delete;
    /// Entries in the folder (to check that nothing, or nothing more, was left).
    std::size_t count() const {
        return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(path), {}));
    }
};

}  // namespace strata::test
