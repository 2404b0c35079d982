// with_resource_hint: the limit behind "Too many open files" and its kin.
#include "strata/detail/resource_hint.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "strata/memory.hpp"

namespace strata::detail {

namespace {

std::string limit_text(int resource, const char* unit) {
    rlimit limit{};
    if (::getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return "unlimited";
    return fmt::format("{}{}", limit.rlim_cur, unit);
}

bool mentions(const std::string& message, int number) { return message.find(std::strerror(number)) != std::string::npos; }

}  // namespace

std::string with_resource_hint(std::string message) {
    if (message.find(" (ulimit -") != std::string::npos || message.find(" (this process may use ") != std::string::npos) {
        return message;  // already explained
    }
    if (mentions(message, EMFILE) || mentions(message, ENFILE)) {
        return message + fmt::format(" (ulimit -n: {} open files; raise it, or use fewer workers)",
                                     limit_text(RLIMIT_NOFILE, ""));
    }
    if (mentions(message, EAGAIN)) {
        return message + fmt::format(" (ulimit -u: {} processes and threads; ulimit -v, the address space their "
                                     "stacks come from: {}; raise them, or use fewer workers)",
                                     limit_text(RLIMIT_NPROC, ""), limit_text(RLIMIT_AS, " bytes"));
    }
    if (mentions(message, ENOMEM) || message.find("bad_alloc") != std::string::npos ||
        message.find("out of memory") != std::string::npos) {
        const auto usable = usable_memory();
        return message + fmt::format(" (this process may use {}, from its {}; lower the memory it needs: fewer "
                                     "workers, a lower memory limit, or smaller images)",
                                     describe_bytes(usable.bytes), usable.source);
    }
    return message;
}

}  // namespace strata::detail
