// The library's own version, fixed when libstrata is built.
#include "strata/version.hpp"

namespace strata {

std::string_view version() noexcept { return STRATA_VERSION; }

}  // namespace strata
