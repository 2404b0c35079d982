// Writing a small output file (a report) so that it is either complete or absent.
#pragma once

#include <filesystem>
#include <string_view>

namespace strata::cli {

/// Writes `contents` to a temporary file beside `path` and renames it over
/// `path`, so readers never see a partial file. Throws std::system_error
/// naming the file on failure, leaving nothing behind.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace strata::cli
