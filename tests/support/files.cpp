// Disk and process checks shared by the command-line and attack tests.
#include "files.hpp"

#include <sys/stat.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "strata/strata.hpp"
#include "support/paths.hpp"

namespace strata::test {

namespace fs = std::filesystem;

void make_photos(const fs::path& folder, const char* photo, int scale, int count) {
    fs::create_directories(folder);
    const auto large = strata::run_chain(strata::parse_chain(fmt::format("resize=scale={}", scale)),
                                         strata::read_image(testdata() / "photos" / photo),
                                         {.where = strata::backend::serial});
    strata::write_image(large, folder / "photo-01.jpg", {.quality = 90});
    for (int i = 2; i <= count; ++i) fs::copy_file(folder / "photo-01.jpg", folder / fmt::format("photo-{:02}.jpg", i));
}

bool all_complete(const fs::path& folder) {
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (!entry.is_regular_file() || entry.is_symlink()) continue;
        if (entry.path().extension() == ".json") continue;
        try {
            strata::inspect(entry.path());
        } catch (const strata::error& e) {
            MESSAGE("incomplete output: " << std::string(e.what()));
            return false;
        }
    }
    return true;
}

std::size_t files_in(const fs::path& folder) {
    std::size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(folder)) count += entry.is_regular_file() && !entry.is_symlink();
    return count;
}

bool no_temporaries(const fs::path& folder) {
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (entry.path().filename().string().find(".strata-") != std::string::npos) {
            MESSAGE("temporary file left: " << entry.path().string());
            return false;
        }
    }
    return true;
}

std::vector<char> contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::map<std::string, std::string> snapshot(const fs::path& folder) {
    std::map<std::string, std::string> entries;
    for (auto it = fs::recursive_directory_iterator(folder); it != fs::recursive_directory_iterator(); ++it) {
        struct stat facts {};
        ::lstat(it->path().c_str(), &facts);
        std::string digest;
        if (S_ISREG(facts.st_mode)) {
            // FNV-1a of the bytes: any change of content shows.
            std::uint64_t hash = 1469598103934665603ull;
            for (const char byte : contents(it->path())) hash = (hash ^ static_cast<unsigned char>(byte)) * 1099511628211ull;
            digest = fmt::format("{:016x}", hash);
        } else if (S_ISLNK(facts.st_mode)) {
            digest = fs::read_symlink(it->path()).string();
        }
        entries[fs::relative(it->path(), folder).string()] =
            fmt::format("mode {:o} size {} inode {} {}", facts.st_mode, facts.st_size, facts.st_ino, digest);
    }
    return entries;
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) continue;
        std::istringstream rest(line.substr(line.rfind(')') + 2));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (state != 'Z' && parent == pid) found.push_back(std::stoi(name));
    }
    return found;
}

std::vector<pid_t> workers_of(pid_t pid) {
    std::vector<pid_t> found;
    for (const pid_t child : children_of(pid)) {
        for (const pid_t grandchild : children_of(child)) found.push_back(grandchild);
    }
    return found;
}

}  // namespace strata::test
