// pending_file: an unnamed (or hidden, guarded) file in a held folder, linked
// to its name only when complete, never over a file unless asked to.
#include "strata/detail/output_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <random>
#include <string_view>

#include <fmt/format.h>

#include "strata/error.hpp"

namespace strata::detail {

namespace {

std::string errno_text(int number) { return std::strerror(number); }

// ".photo.strata-1234-5678.jpg": hidden, recognisable, unlikely to collide.
std::string temporary_name(const std::string& name, std::string_view suffix) {
    thread_local std::mt19937_64 random(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
    const auto stem = std::filesystem::path(name).stem().string().substr(0, 160);
    return fmt::format(".{}.strata-{}-{:08x}{}", stem, ::getpid(), random() & 0xffffffffu, suffix);
}

// The process id in `name` if it is a temporary name for an output of
// `stem` and `suffix`, else 0.
pid_t temporary_owner(std::string_view name, const std::string& stem, std::string_view suffix) {
    const std::string prefix = fmt::format(".{}.strata-", stem);
    if (!name.starts_with(prefix)) return 0;
    name.remove_prefix(prefix.size());
    pid_t pid = 0;
    const auto [end, failure] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (failure != std::errc() || pid <= 0) return 0;
    name.remove_prefix(static_cast<std::size_t>(end - name.data()));
    // "-" and eight hex digits, then the suffix.
    if (name.size() != 9 + suffix.size() || name[0] != '-' || !name.ends_with(suffix)) return 0;
    for (std::size_t i = 1; i < 9; ++i) {
        if (std::isxdigit(static_cast<unsigned char>(name[i])) == 0) return 0;
    }
    return pid;
}

std::string proc_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

}  // namespace

output_place place_of(const std::filesystem::path& path) {
    const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        const int saved = errno;
        throw image_error(path, fmt::format("cannot create a file in {}: {}", folder.string(),
                                            saved == ENOENT ? "no such folder" : errno_text(saved)));
    }
    return {file_descriptor(fd), path.filename().string(), path};
}

pending_file::pending_file(output_place place, std::string_view suffix, bool named) : place_(std::move(place)) {
    const int folder = place_.folder.get();
    if (!named) {
        // Read and write: some savers (TIFF) read back what they wrote.
        fd_ = ::openat(folder, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);  // less the umask
        if (fd_ >= 0) return;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            throw image_error(place_.shown, fmt::format("cannot create a file in its folder: {}", errno_text(errno)));
        }
    }
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::string candidate = temporary_name(place_.name, suffix);
        // The guard first: a signal between the two leaves nothing either way.
        auto guard = std::make_unique<temporary_file_guard>(folder, candidate);
        fd_ = ::openat(folder, candidate.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd_ >= 0) {
            temporary_ = std::move(candidate);
            guard_ = std::move(guard);
            return;
        }
        if (errno != EEXIST) {
            throw image_error(place_.shown, fmt::format("cannot create a file in its folder: {}", errno_text(errno)));
        }
    }
    throw image_error(place_.shown, "cannot create a file in its folder: no free temporary name");
}

pending_file::~pending_file() {
    remove_temporary();
    if (fd_ >= 0) ::close(fd_);
}

void pending_file::remove_temporary() noexcept {
    if (temporary_.empty()) return;
    ::unlinkat(place_.folder.get(), temporary_.c_str(), 0);
    temporary_.clear();
    if (guard_) guard_->release();
}

std::string pending_file::path() const {
    return fmt::format("/proc/self/fd/{}/{}", place_.folder.get(), temporary_);
}

void pending_file::publish(bool replace) {
    const int folder = place_.folder.get();
    const char* name = place_.name.c_str();
    auto fail = [&](int number) -> void {
        if (number == EEXIST) throw output_exists(place_.shown, "already exists, and replacing it was not asked for");
        if (number == EISDIR) throw image_error(place_.shown, "is a folder; an image cannot be written over it");
        throw image_error(place_.shown, fmt::format("cannot create: {}", errno_text(number)));
    };
    if (named()) {
        // A writer opened the file by path (and may have made it afresh): it
        // must be a plain file, not a link planted in its place.
        struct stat listed {};
        if (::fstatat(folder, temporary_.c_str(), &listed, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(listed.st_mode)) {
            throw image_error(place_.shown, "its temporary file was replaced while it was written");
        }
        if (replace) {
            if (::renameat(folder, temporary_.c_str(), folder, name) != 0) fail(errno);
        } else if (::renameat2(folder, temporary_.c_str(), folder, name, RENAME_NOREPLACE) != 0) {
            if (errno != EINVAL && errno != ENOSYS) fail(errno);
            // No RENAME_NOREPLACE here: a second link never replaces either.
            if (::linkat(folder, temporary_.c_str(), folder, name, 0) != 0) fail(errno);
            ::unlinkat(folder, temporary_.c_str(), 0);
        }
        temporary_.clear();
        if (guard_) guard_->release();
        return;
    }
    const std::string source = proc_path(fd_);
    if (::linkat(AT_FDCWD, source.c_str(), folder, name, AT_SYMLINK_FOLLOW) == 0) return;
    if (errno != EEXIST || !replace) fail(errno);
    // Replacing: under a hidden name first, then renamed over (rename
    // replaces atomically, link never does).
    for (int attempt = 0; attempt < 100; ++attempt) {
        const std::string hidden = temporary_name(place_.name, std::filesystem::path(place_.name).extension().string());
        temporary_file_guard guard(folder, hidden);
        if (::linkat(AT_FDCWD, source.c_str(), folder, hidden.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            if (errno == EEXIST) continue;
            fail(errno);
        }
        if (::renameat(folder, hidden.c_str(), folder, name) != 0) {
            const int saved = errno;
            ::unlinkat(folder, hidden.c_str(), 0);
            fail(saved);
        }
        return;
    }
    throw image_error(place_.shown, "cannot create: no free temporary name");
}

void remove_orphaned_temporaries(const output_place& place, pid_t owner) noexcept {
    if (owner <= 0 || owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) return;  // not gone
    const int listing = ::openat(place.folder.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (listing < 0) return;
    DIR* folder = ::fdopendir(listing);
    if (folder == nullptr) {
        ::close(listing);
        return;
    }
    try {
        const std::filesystem::path name(place.name);
        const std::string stem = name.stem().string().substr(0, 160);
        const std::string suffix = name.extension().string();
        while (const dirent* entry = ::readdir(folder)) {
            if (temporary_owner(entry->d_name, stem, suffix) == owner) ::unlinkat(place.folder.get(), entry->d_name, 0);
        }
    } catch (...) {
        // Only tidiness is lost.
    }
    ::closedir(folder);
}

}  // namespace strata::detail
