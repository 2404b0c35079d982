// output_tree: folders below OUTPUT_DIR opened and made with openat/mkdirat,
// one name at a time, never through a symbolic link.
#include "strata/detail/output_tree.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "strata/error.hpp"

namespace strata::detail {

namespace fs = std::filesystem;

output_tree::output_tree(const fs::path& root) : root_(root) {
    const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw image_error(root, fmt::format("cannot open the output folder: {}", std::strerror(errno)));
    root_fd_ = file_descriptor(fd);
}

file_descriptor output_tree::folder(const fs::path& relative, bool create, const fs::path& shown) {
    std::lock_guard lock(mutex_);
    file_descriptor current = root_fd_;
    fs::path reached;
    for (const auto& part : relative) {
        if (part.empty() || part == ".") continue;
        const std::string name = part.string();
        if (name == ".." || name.find('/') != std::string::npos) {
            throw image_error(shown, fmt::format("output folder '{}' leaves the output folder", (reached / part).string()));
        }
        reached /= part;
        if (const auto found = opened_.find(reached); found != opened_.end()) {
            current = found->second;
            continue;
        }
        int fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(current.get(), name.c_str(), 0777) == 0) {
                made_.push_back(reached);
            } else if (errno != EEXIST) {
                throw image_error(shown, fmt::format("cannot create the folder {}: {}", (root_ / reached).string(),
                                                     std::strerror(errno)));
            }
            fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            const int saved = errno;
            if (saved == ENOENT && !create) return {};
            struct stat what {};
            const bool is_link = ::fstatat(current.get(), name.c_str(), &what, AT_SYMLINK_NOFOLLOW) == 0 &&
                                 S_ISLNK(what.st_mode);
            if (saved == ELOOP || is_link) {
                throw image_error(shown, fmt::format("output folder '{}' is a symbolic link; strata never writes "
                                                     "through one (remove it, or choose another output folder)",
                                                     reached.string()));
            }
            if (saved == ENOTDIR) {
                throw image_error(shown, fmt::format("output folder '{}' is a file, not a folder", reached.string()));
            }
            throw image_error(shown, fmt::format("cannot open the folder {}: {}", (root_ / reached).string(),
                                                 std::strerror(saved)));
        }
        current = file_descriptor(fd);
        opened_.emplace(reached, current);
    }
    return current;
}

output_place output_tree::place(const fs::path& relative) {
    const fs::path shown = root_ / relative;
    return {folder(relative.parent_path(), true, shown), relative.filename().string(), shown};
}

void output_tree::remove_empty_made_folders() {
    std::lock_guard lock(mutex_);
    for (auto made = made_.rbegin(); made != made_.rend(); ++made) {
        const auto parent = opened_.find(made->parent_path());
        const int parent_fd = made->parent_path().empty() ? root_fd_.get()
                              : parent != opened_.end()     ? parent->second.get()
                                                            : -1;
        // rmdir fails on a folder that is not empty, which is what is wanted.
        if (parent_fd >= 0 && ::unlinkat(parent_fd, made->filename().c_str(), AT_REMOVEDIR) == 0) opened_.erase(*made);
    }
    made_.clear();
}

std::optional<struct stat> output_tree::status(const fs::path& relative) {
    const file_descriptor where = folder(relative.parent_path(), false, root_ / relative);
    if (!where) return std::nullopt;
    struct stat facts {};
    if (::fstatat(where.get(), relative.filename().c_str(), &facts, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
    return facts;
}

}  // namespace strata::detail
