// Leak checks for the pool tests: open descriptors, child processes, /dev/shm.
#pragma once

#include <dirent.h>
#include <sys/wait.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <string>

namespace strata::test {

inline std::set<std::string> entries(const char* folder) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) names.insert(entry.path().filename());
    return names;
}

/// Open descriptors of this process, with what they point at.
inline std::set<std::string> open_fds() {
    std::set<std::string> fds;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        std::error_code link_error;
        const auto target = std::filesystem::read_symlink(entry.path(), link_error);
        fds.insert(entry.path().filename().string() + " -> " + target.string());
    }
    return fds;
}

/// True when this process has no child left, not even a zombie.
inline bool no_children() {
    int status = 0;
    return ::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

/// Snapshot at construction; check() compares with now.
struct leak_check {
    std::set<std::string> fds = open_fds();
    std::set<std::string> shm = entries("/dev/shm");
};

}  // namespace strata::test

/// Asserts that nothing leaked since `snapshot` was taken.
#define CHECK_NO_LEAKS(snapshot)                                          \
    do {                                                                  \
        const auto fds_now = ::strata::test::open_fds();                  \
        CHECK(fds_now.size() == (snapshot).fds.size());                   \
        CHECK(::strata::test::no_children());                             \
        CHECK(::strata::test::entries("/dev/shm") == (snapshot).shm);     \
    } while (false)
