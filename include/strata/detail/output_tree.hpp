// A batch's output folder held open, and every folder and file
// beneath it reached one name at a time without following a symbolic link.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "strata/detail/output_file.hpp"
#include "strata/export.hpp"
#include "strata/file_descriptor.hpp"

namespace strata::detail {

/// OUTPUT_DIR, opened once. Folders below it are opened (and, when asked,
/// made) name by name relative to their parent's descriptor with
/// O_NOFOLLOW, so a symbolic link planted anywhere below the root is
/// refused instead of followed, and no output can land outside the root.
/// Thread-safe.
class STRATA_API output_tree {
public:
    /// Opens `root`, which must exist (links in `root` itself are followed:
    /// the user named it). Throws image_error.
    explicit output_tree(const std::filesystem::path& root);

    const std::filesystem::path& root() const noexcept { return root_; }

    /// The folder `relative` below the root (empty: the root itself). With
    /// `create`, missing folders are made; without, an empty descriptor
    /// means it does not exist. Throws image_error naming `shown` when a
    /// folder on the way is a symbolic link or not a folder.
    file_descriptor folder(const std::filesystem::path& relative, bool create, const std::filesystem::path& shown);

    /// Where the file `relative` goes (its folders made on the way).
    output_place place(const std::filesystem::path& relative);

    /// What is at `relative` now, a final symbolic link not followed;
    /// nullopt when nothing is (or its folder does not exist). Throws as
    /// folder() does.
    std::optional<struct stat> status(const std::filesystem::path& relative);

    /// Removes the folders this tree made that are still empty (every file
    /// meant for them failed), deepest first; anything else is left alone.
    void remove_empty_made_folders();

private:
    std::filesystem::path root_;
    file_descriptor root_fd_;
    std::mutex mutex_;
    std::map<std::filesystem::path, file_descriptor> opened_;
    std::vector<std::filesystem::path> made_;  // in the order they were made
};

}  // namespace strata::detail
