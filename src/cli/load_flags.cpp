// Image options declared once for every command that reads or writes images.
#include "load_flags.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/memory.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

// An ICC profile file whose colour space is RGB: what strata's pixels are
// after conversion (a CMYK or Lab output profile would change the bands).
CLI::Validator rgb_profile() {
    return CLI::Validator(
        [](std::string& path) -> std::string {
            std::ifstream file(path, std::ios::binary);
            char header[40] = {};
            if (!file.read(header, sizeof header) || std::string_view(header + 36, 4) != "acsp") {
                return path + " is not an ICC profile";
            }
            const std::string_view space(header + 16, 4);
            if (space != "RGB ") {
                return fmt::format("{} is a profile for '{}' colour, not RGB; accepted: an RGB output profile", path,
                                   space);
            }
            return {};
        },
        "RGB ICC PROFILE");
}

}  // namespace

void load_flags::add_to(CLI::App& sub, bool with_orientation) {
    if (with_orientation) {
        sub.add_flag("--keep-orientation", keep_orientation, "Do not turn images upright by their EXIF orientation");
        sub.add_option("--page", page,
                       "The page (frame) of a multi-page file to convert when the output holds one page (from 0; "
                       "GIF, WebP and TIFF outputs get every page from it on)")
            ->check(whole_number(0, 100'000));  // libvips' own bound
        sub.add_flag("--no-shrink-on-load", no_shrink_on_load,
                     "Decode at full size even when the chain starts by shrinking (thumbnail, resize)");
        auto* colourspace = sub.add_option("--colourspace", colour_space,
                                           "srgb: convert images with another ICC profile (Display P3, Adobe RGB) "
                                           "to sRGB (CMYK always is)")
                                ->transform([](std::string text) {
                                    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                                    return text;
                                })
                                ->check(one_of({"srgb"}));
        sub.add_option("--profile", profile, "Convert to this RGB ICC profile (an .icc file) and embed it")
            ->check(CLI::ExistingFile)
            ->check(rgb_profile())
            ->excludes(colourspace);
    }
    sub.add_option("--fail-on", fail_policy, "Decoder damage that fails a file")
        ->check(one_of({"none", "truncated", "error", "warning"}))
        ->capture_default_str();
    max_pixels_given =
        sub.add_option("--max-pixels", max_pixels,
                       "Refuse images with more pixels than this (by default, images that stream, read and written "
                       "top to bottom in bounded memory, have no pixel limit)")
        ->check(whole_number(1, std::numeric_limits<std::int64_t>::max()))
        ->capture_default_str();
    sub.add_option("--max-memory", max_memory,
                   "Refuse images whose decoded pixels take more than this: a size in bytes with K, M, G or T "
                   "(1024-based), 0 for no limit, or auto: half the memory this process may use (the machine's, "
                   "its cgroup's limit, ulimit -v), shared by the images held at once")
        ->check(CLI::Validator(
            [](const std::string& text) {
                return parse_size(text) ? std::string() : "'" + text + "' is not a size such as 512M, 2G, 0 or auto";
            },
            "SIZE"))
        ->capture_default_str();
    sub.add_option("--allow-loader", allowed_loaders,
                   "Use this libvips loader although libvips marks it unsafe for untrusted input (svgload, "
                   "magickload, pdfload, vipsload, ...; repeatable). Only for files you trust")
        ->check(CLI::Validator(
            [](const std::string& name) -> std::string {
                const auto known = all_loaders();
                if (std::find(known.begin(), known.end(), name) != known.end()) return {};
                return fmt::format("'{}' is not a libvips loader; the ones strata blocks: {}", name,
                                   fmt::join(untrusted_loaders(), ", "));
            },
            "LOADER"));
}

std::optional<std::uint64_t> load_flags::memory_budget() const {
    if (max_memory != "auto") return std::nullopt;
    return usable_memory().bytes / 2;
}

std::string load_flags::auto_origin() const {
    const auto usable = usable_memory();
    return fmt::format("--max-memory auto: half of the {} this process may use, from its {}; give --max-memory SIZE "
                       "to choose",
                       describe_bytes(usable.bytes), usable.source);
}

std::optional<std::uint64_t> parse_size(const std::string& text) {
    if (text == "auto") return usable_memory().bytes / 2;
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    int shift = 0;
    if (unit == "K" || unit == "k" || unit == "KiB") shift = 10;
    else if (unit == "M" || unit == "m" || unit == "MiB") shift = 20;
    else if (unit == "G" || unit == "g" || unit == "GiB") shift = 30;
    else if (unit == "T" || unit == "t" || unit == "TiB") shift = 40;
    else if (!unit.empty()) return std::nullopt;
    if (shift != 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
    return value << shift;
}

load_options load_flags::options() const {
    load_options result;
    result.max_pixels = max_pixels;
    if (max_pixels_given != nullptr && max_pixels_given->count() > 0) result.max_streamed_pixels = max_pixels;
    if (const auto budget = memory_budget()) {
        // One image at a time, held decoded and filtered.
        result.max_memory = *budget / 2;
        result.max_memory_origin = auto_origin() + ", for one image held decoded and filtered";
    } else {
        result.max_memory = parse_size(max_memory).value_or(0);
        result.max_memory_origin = "--max-memory; raise it to read the image";
    }
    result.autorotate = !keep_orientation;
    result.shrink_on_load = !no_shrink_on_load;
    result.page = page;
    result.colour_profile = !profile.empty() ? profile : colour_space;
    result.allowed_loaders = allowed_loaders;
    result.fail = fail_policy == "none"      ? fail_on::none
                  : fail_policy == "error"   ? fail_on::error
                  : fail_policy == "warning" ? fail_on::warning
                                             : fail_on::truncated;
    return result;
}

void write_flags::add_to(CLI::App& sub) {
    sub.add_option("-q,--quality", quality, "Quality 1-100 for lossy formats")->check(whole_number(1, 100));
    sub.add_flag("--strip-metadata", strip_metadata,
                 "Leave ICC profile, EXIF and XMP out of the output (an RGB image with another profile than sRGB is "
                 "converted to sRGB first)");
    sub.add_option("-O,--format-option", format_options,
                   "Saver option, as libvips names it: NAME=VALUE or NAME (repeatable), e.g. lossless, effort=6, "
                   "compression=lzw");
}

write_options write_flags::options() const {
    return {.quality = quality, .strip_metadata = strip_metadata, .format_options = format_options};
}

void add_timeout_option(CLI::App& sub, double& seconds) {
    sub.add_option("--timeout", seconds,
                   "A file that takes longer than this many seconds fails alone, its worker killed and replaced "
                   "(in strips mode, each strip); 0: no limit")
        ->check(seconds_up_to(7 * 24 * 3600))
        ->capture_default_str();
}

std::chrono::milliseconds timeout_of(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
}

void add_backend_option(CLI::App& sub, std::string& name) {
    sub.add_option("-b,--backend", name, "Where the work runs")
        ->check(one_of({"processes", "threads", "serial"}))
        ->capture_default_str();
}

backend backend_named(const std::string& name) {
    return name == "threads" ? backend::threads : name == "serial" ? backend::serial : backend::processes;
}

}  // namespace strata::cli
