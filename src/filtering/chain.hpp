// Internal: pieces of a parsed chain (chain.cpp).
#pragma once

#include <cstddef>

#include "strata/pipeline.hpp"

namespace strata::detail {

/// Steps [first, last) of `chain` as a chain of their own, with the text
/// that parses to them (what workers are sent).
filter_chain sub_chain(const filter_chain& chain, std::size_t first, std::size_t last);

}  // namespace strata::detail
