// "Did you mean ...?": the known names closest to a misspelt one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/export.hpp"

namespace strata::detail {

/// Number of single-character edits (insert, delete, replace, swap of two
/// neighbours) that turn `a` into `b`, ignoring case.
STRATA_API std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidates within a small edit distance of `word` (or starting with
/// it), closest first; empty when nothing is close.
STRATA_API std::vector<std::string> closest_names(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace strata::detail
