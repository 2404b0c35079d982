// System-call wrappers with fault injection for the tests.
#include "syscall.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace strata::detail::sys {

struct injected {
    std::atomic<int> error_number{0};
    std::atomic<int> remaining{0};
};

std::array<injected, 3>& table() {
    static std::array<injected, 3> entries;
    return entries;
}

int take_injected_failure(injectable call) noexcept {
    auto& entry = table()[static_cast<std::size_t>(call)];
    int left = entry.remaining.load();
    while (left > 0) {
        if (entry.remaining.compare_exchange_weak(left, left - 1)) return entry.error_number.load();
    }
    return 0;
}

int memfd_create(const char* name, unsigned flags) noexcept {
    if (const int error_number = take_injected_failure(injectable::memfd_create)) {
        errno = error_number;
        return -1;
    }
    return ::memfd_create(name, flags);
}

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

pid_t fork() noexcept {
    if (const int error_number = take_injected_failure(injectable::fork)) {
        errno = error_number;
        return -1;
    }
    return ::fork();
}

}  // namespace strata::detail::sys

namespace strata::detail {

void inject_failure(injectable call, int error_number, int count) noexcept {
    auto& entry = sys::table()[static_cast<std::size_t>(call)];
    entry.error_number = error_number;
    entry.remaining = count;
}

}  // namespace strata::detail
