// Writing a small output file (a report) so that it is either complete or absent.
#pragma once

#include <filesystem>
#include <string_view>

#include "strata/detail/output_file.hpp"

namespace strata::cli {

/// Writes `contents` to an unnamed file in `path`'s folder and names it
/// `path` (replacing what is there) once complete, so readers never see a
/// partial file. Throws image_error naming the file, leaving nothing behind.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);
/// The same, at a place already resolved (beneath an output folder, say).
void write_file_atomically(const detail::output_place& place, std::string_view contents);

}  // namespace strata::cli
