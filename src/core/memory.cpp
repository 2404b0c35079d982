// usable_memory: physical memory, cgroup v1 and v2 limits, RLIMIT_AS.
#include "strata/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace strata {

namespace {

namespace fs = std::filesystem;

struct cgroup_mount {
    fs::path where;  ///< mount point
    fs::path root;   ///< the cgroup the mount shows at its top
    bool v2 = false;
};

// The cgroup2 mount, or the v1 mount that holds the memory controller.
std::vector<cgroup_mount> memory_mounts() {
    std::vector<cgroup_mount> found;
    std::ifstream mounts("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mounts, line)) {
        // id parent major:minor root mount-point options ... - type source super-options
        std::istringstream fields(line);
        std::string id, parent, device, root, where, options, word;
        fields >> id >> parent >> device >> root >> where >> options;
        while (fields >> word && word != "-") {
        }
        std::string type, source, super;
        fields >> type >> source >> super;
        if (type == "cgroup2") found.push_back({where, root, true});
        if (type == "cgroup" && ("," + super + ",").find(",memory,") != std::string::npos) {
            found.push_back({where, root, false});
        }
    }
    return found;
}

// This process's cgroup path in the v2 hierarchy, or in the v1 memory one.
std::string cgroup_path(bool v2) {
    std::ifstream groups("/proc/self/cgroup");
    std::string line;
    while (std::getline(groups, line)) {
        const auto first = line.find(':');
        const auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        const std::string controllers = line.substr(first + 1, second - first - 1);
        const bool matches = v2 ? line.substr(0, first) == "0" && controllers.empty()
                                : ("," + controllers + ",").find(",memory,") != std::string::npos;
        if (matches) return line.substr(second + 1);
    }
    return {};
}

// A limit file's value: a number of bytes, or nothing ("max", unreadable).
std::uint64_t read_limit(const fs::path& file) {
    std::ifstream in(file);
    std::string text;
    if (!(in >> text) || text == "max") return 0;
    try {
        return std::stoull(text);
    } catch (const std::exception&) {
        return 0;
    }
}

void consider(memory_limit& limit, std::uint64_t bytes, std::string source) {
    if (bytes != 0 && bytes < limit.bytes) limit = {bytes, std::move(source)};
}

}  // namespace

memory_limit usable_memory() {
    memory_limit limit{UINT64_MAX, "physical memory"};
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) limit.bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
    for (const auto& mount : memory_mounts()) {
        fs::path group = cgroup_path(mount.v2);
        if (group.empty()) continue;
        // Inside a container the mount's top may be this cgroup itself.
        const fs::path relative = group.lexically_relative(mount.root);
        if (relative.empty() || *relative.begin() == "..") continue;
        const char* file = mount.v2 ? "memory.max" : "memory.limit_in_bytes";
        for (fs::path at = mount.where / relative;; at = at.parent_path()) {
            consider(limit, read_limit(at / file), "cgroup " + std::string(file) + " (" + (at / file).string() + ")");
            if (at == mount.where || !at.has_parent_path()) break;
        }
    }
    rlimit address_space{};
    if (::getrlimit(RLIMIT_AS, &address_space) == 0 && address_space.rlim_cur != RLIM_INFINITY) {
        consider(limit, address_space.rlim_cur, "RLIMIT_AS (ulimit -v)");
    }
    return limit;
}

std::string describe_bytes(std::uint64_t bytes) {
    constexpr const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} bytes", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

}  // namespace strata
