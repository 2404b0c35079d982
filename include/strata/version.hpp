// The version of the strata library a program runs against.
#pragma once

#include <string_view>

#include "strata/config.hpp"
#include "strata/export.hpp"

namespace strata {

/// The version of the loaded libstrata, e.g. "0.1.0". It can differ from
/// STRATA_VERSION, which is the version of the headers a program was built with.
STRATA_API std::string_view version() noexcept;

}  // namespace strata
