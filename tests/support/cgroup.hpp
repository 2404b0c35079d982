// A memory cgroup with a limit, made for one test (cgroup v2 where its memory
// controller is on, else v1), removed afterwards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace strata::test {

struct memory_cgroup {
    std::filesystem::path path;  ///< empty when none could be made here
    std::string why_not;         ///< then: the reason
    explicit memory_cgroup(std::uint64_t limit_bytes);
    ~memory_cgroup();
    memory_cgroup(const memory_cgroup&) = delete;
    memory_cgroup& operator=(const memory_cgroup&) = delete;
    /// A shell command that joins this cgroup and then runs `command`.
    std::string joined(const std::string& command) const;
};

}  // namespace strata::test
