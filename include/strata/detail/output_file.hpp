// A new file written where a reader can never see it half-done, and named
// only once complete, relative to a folder held open.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "strata/detail/temporary_files.hpp"
#include "strata/export.hpp"
#include "strata/file_descriptor.hpp"

namespace strata::detail {

/// Where a new file goes: `name` (one path component) in the folder held
/// open by `folder`. `shown` is how messages name the file.
struct output_place {
    file_descriptor folder;
    std::string name;
    std::filesystem::path shown;
    auto fields() { return std::tie(folder, name, shown); }
};

/// The place of `path`: its folder opened as the path says, symbolic links
/// followed (the caller chose the path). Throws image_error.
STRATA_API output_place place_of(const std::filesystem::path& path);

/// A file being written at a place. It is unnamed (O_TMPFILE) where the file
/// system allows and `named` is false; otherwise it has a hidden temporary
/// name beside the place, removed on every path out, signals included (see
/// temporary_file_guard). Nothing appears under the place's name until
/// publish() succeeds. Not thread-safe.
class STRATA_API pending_file {
public:
    /// `suffix` ends the temporary name (savers pick a format by extension).
    /// Throws image_error naming the place.
    pending_file(output_place place, std::string_view suffix, bool named);
    ~pending_file();
    pending_file(const pending_file&) = delete;
    pending_file& operator=(const pending_file&) = delete;

    /// Open for reading and writing.
    int fd() const noexcept { return fd_; }
    bool named() const noexcept { return !temporary_.empty(); }
    /// A path that opens the temporary file, for writers that want a path
    /// (beneath the held folder, so no link is followed). Named files only.
    std::string path() const;

    /// Gives the file the place's name. With `replace`, a file already of
    /// that name is replaced atomically; without, output_exists is thrown
    /// and nothing changes. Throws image_error for other failures.
    void publish(bool replace);

private:
    void remove_temporary() noexcept;

    output_place place_;
    int fd_ = -1;
    std::string temporary_;  ///< its hidden name, when it has one
    std::unique_ptr<temporary_file_guard> guard_;
};

/// Removes the hidden temporary files for `place` that process `owner` made,
/// if it is gone (a worker killed while it wrote, before it could remove
/// its own): nothing of a live process, of another output, or of another
/// process. Never throws.
STRATA_API void remove_orphaned_temporaries(const output_place& place, pid_t owner) noexcept;

}  // namespace strata::detail
