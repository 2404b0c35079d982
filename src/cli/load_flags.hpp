// The decoder options shared by commands that read images (--fail-on, --max-pixels).
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "strata/image_info.hpp"

namespace strata::cli {

struct load_flags {
    std::string fail_policy = "truncated";
    std::uint64_t max_pixels = load_options{}.max_pixels;

    /// Declares --fail-on and --max-pixels on `sub`.
    void add_to(CLI::App& sub);
    /// The options they mean.
    load_options options() const;
};

}  // namespace strata::cli
