// memory_cgroup: v2 (memory.max) or v1 (memory.limit_in_bytes).
#include "cgroup.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace strata::test {

namespace fs = std::filesystem;

namespace {

// The mount point of cgroup2, or of the v1 hierarchy with memory; "" if none.
fs::path mount_of(bool v2) {
    std::ifstream mounts("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mounts, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, root, where, options, word, type, source, super;
        fields >> id >> parent >> device >> root >> where >> options;
        while (fields >> word && word != "-") {
        }
        fields >> type >> source >> super;
        if (v2 && type == "cgroup2") return where;
        if (!v2 && type == "cgroup" && ("," + super + ",").find(",memory,") != std::string::npos) return where;
    }
    return {};
}

bool write_file(const fs::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace

memory_cgroup::memory_cgroup(std::uint64_t limit_bytes) {
    const std::string name = "strata-test-" + std::to_string(::getpid());
    const fs::path v2 = mount_of(true);
    std::string controllers;
    if (!v2.empty()) std::getline(std::ifstream(v2 / "cgroup.controllers"), controllers);
    std::error_code ec;
    if (!v2.empty() && (" " + controllers + " ").find(" memory ") != std::string::npos) {
        write_file(v2 / "cgroup.subtree_control", "+memory");
        if (fs::create_directory(v2 / name, ec) && write_file(v2 / name / "memory.max", std::to_string(limit_bytes))) {
            write_file(v2 / name / "memory.swap.max", "0");
            path = v2 / name;
            return;
        }
        why_not = "cannot make a cgroup v2 with a memory limit (" + ec.message() + ")";
    }
    const fs::path v1 = mount_of(false);
    if (v1.empty()) {
        if (why_not.empty()) why_not = "no cgroup hierarchy with the memory controller";
        return;
    }
    if (!fs::create_directory(v1 / name, ec) ||
        !write_file(v1 / name / "memory.limit_in_bytes", std::to_string(limit_bytes))) {
        why_not = "cannot make a memory cgroup under " + v1.string() + " (" + (ec ? ec.message() : "no permission") + ")";
        fs::remove(v1 / name, ec);
        return;
    }
    write_file(v1 / name / "memory.memsw.limit_in_bytes", std::to_string(limit_bytes));
    path = v1 / name;
}

memory_cgroup::~memory_cgroup() {
    if (path.empty()) return;
    // Its processes are gone, or going: the folder goes once they are.
    std::error_code ec;
    for (int attempt = 0; attempt < 100 && !fs::remove(path, ec); ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string memory_cgroup::joined(const std::string& command) const {
    return "echo $$ > '" + (path / "cgroup.procs").string() + "' && exec " + command;
}

}  // namespace strata::test
