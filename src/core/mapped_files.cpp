// A SIGBUS handler for files that shrink under a mapping.
#include "strata/detail/mapped_files.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace strata::detail {

namespace {

extern "C" void zero_page_on_bus_error(int signal_number, siginfo_t* info, void*) {
    static const long page = ::sysconf(_SC_PAGESIZE);
    if (info->si_code == BUS_ADRERR && page > 0) {
        const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr) & ~static_cast<std::uintptr_t>(page - 1);
        void* zeros = ::mmap(reinterpret_cast<void*>(address), static_cast<std::size_t>(page), PROT_READ | PROT_WRITE,
                             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (zeros != MAP_FAILED) return;
    }
    ::signal(signal_number, SIG_DFL);  // anything else: the default, when the access is retried
}

}  // namespace

void guard_mapped_files() noexcept {
    struct sigaction current {};
    if (::sigaction(SIGBUS, nullptr, &current) != 0) return;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return;
    struct sigaction action {};
    action.sa_sigaction = zero_page_on_bus_error;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    ::sigaction(SIGBUS, &action, nullptr);
}

}  // namespace strata::detail
