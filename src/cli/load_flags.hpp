// The image options shared by commands: decoding (--fail-on, --max-pixels,
// --keep-orientation), encoding (--quality, --strip-metadata, -O) and --backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "strata/image.hpp"
#include "strata/image_info.hpp"
#include "strata/pipeline.hpp"

namespace strata::cli {

struct load_flags {
    std::string fail_policy = "truncated";
    std::uint64_t max_pixels = load_options{}.max_pixels;
    /// --max-pixels was given: it then limits streamed files too.
    CLI::Option* max_pixels_given = nullptr;
    /// --max-memory as given: a size (512M, 2G, 0 for no limit) or "auto".
    std::string max_memory = "auto";
    bool keep_orientation = false;
    bool no_shrink_on_load = false;
    int page = 0;  ///< --page
    std::string colour_space;  ///< --colourspace: "" or "srgb"
    std::string profile;       ///< --profile FILE.icc
    std::vector<std::string> allowed_loaders;

    /// Declares --fail-on, --max-pixels and --max-memory on `sub`, and --keep-orientation
    /// for commands that write images.
    void add_to(CLI::App& sub, bool with_orientation = false);
    /// The options they mean.
    load_options options() const;
    /// With --max-memory auto: the memory all images held at once may take.
    std::optional<std::uint64_t> memory_budget() const;
    /// Where that budget comes from, for messages.
    std::string auto_origin() const;
};

/// A size as --max-memory takes it ("512M", "2G", "1048576", "0", "auto":
/// half the memory this process may use), in bytes; nullopt if it is not one.
std::optional<std::uint64_t> parse_size(const std::string& text);

/// The encoder options shared by commands that write images.
struct write_flags {
    int quality = 0;
    bool strip_metadata = false;
    std::vector<std::string> format_options;

    /// Declares --quality, --strip-metadata and --format-option on `sub`.
    void add_to(CLI::App& sub);
    write_options options() const;
};

/// Declares --timeout on `sub` (seconds per file; 0 for no limit).
void add_timeout_option(CLI::App& sub, double& seconds);
/// --timeout's seconds as the pool takes them (0: none).
std::chrono::milliseconds timeout_of(double seconds);

/// Declares --backend on `sub`, storing the name in `name`.
void add_backend_option(CLI::App& sub, std::string& name);
backend backend_named(const std::string& name);

}  // namespace strata::cli
