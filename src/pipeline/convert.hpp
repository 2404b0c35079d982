// Internal: convert_file into a place beneath a folder held open.
#pragma once

#include <filesystem>

#include "strata/detail/output_file.hpp"
#include "strata/pipeline.hpp"

namespace strata::detail {

/// convert_file, writing `output` (a name in a folder already open), so no
/// path is resolved again after the caller checked it.
conversion convert_file_at(const std::filesystem::path& input, const output_place& output, const filter_chain& chain,
                           const load_options& loading, const write_options& writing, const run_options& options,
                           pool* workers);

}  // namespace strata::detail
