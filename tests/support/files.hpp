// What tests check on disk after a run: complete images, no temporaries, a
// tree that did not change; and the processes a strata run started.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace strata::test {

/// `count` copies (photo-01.jpg, ...) in `folder` of a bundled photograph
/// enlarged `scale` times: work big enough to interrupt in the middle of.
void make_photos(const std::filesystem::path& folder, const char* photo, int scale, int count);

/// Every regular file under `folder` decodes completely: nothing half-written.
bool all_complete(const std::filesystem::path& folder);

/// Regular files under `folder`, recursively (links not followed).
std::size_t files_in(const std::filesystem::path& folder);

/// No strata temporary file (".name.strata-...") anywhere under `folder`.
bool no_temporaries(const std::filesystem::path& folder);

/// The bytes of a file.
std::vector<char> contents(const std::filesystem::path& path);

/// Everything under `folder`, links not followed: for each relative path its
/// kind, size, inode and mode, and a digest of a regular file's bytes or a
/// link's target. Two equal snapshots mean nothing changed.
std::map<std::string, std::string> snapshot(const std::filesystem::path& folder);

/// The processes whose parent is `pid`.
std::vector<pid_t> children_of(pid_t pid);

/// The worker processes of the strata process `pid` (its grandchildren: the
/// pool's fork server is its child).
std::vector<pid_t> workers_of(pid_t pid);

}  // namespace strata::test
