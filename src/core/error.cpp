// Out-of-line members of the strata::error family (keeps their vtables in libstrata).
#include "strata/error.hpp"

#include <utility>

namespace strata {

image_error::image_error(std::filesystem::path path, std::string reason)
    : error(std::string(path.string()).append(": ").append(reason)), path_(std::move(path)), reason_(std::move(reason)) {}

}  // namespace strata
