// Image options declared once for every command that reads or writes images.
#include "load_flags.hpp"

#include <limits>

#include "validators.hpp"

namespace strata::cli {

void load_flags::add_to(CLI::App& sub, bool with_orientation) {
    if (with_orientation) {
        sub.add_flag("--keep-orientation", keep_orientation, "Do not turn images upright by their EXIF orientation");
    }
    sub.add_option("--fail-on", fail_policy, "Decoder damage that fails a file")
        ->check(one_of({"none", "truncated", "error", "warning"}))
        ->capture_default_str();
    sub.add_option("--max-pixels", max_pixels, "Refuse images with more pixels than this")
        ->check(whole_number(1, std::numeric_limits<std::int64_t>::max()))
        ->capture_default_str();
}

load_options load_flags::options() const {
    load_options result;
    result.max_pixels = max_pixels;
    result.autorotate = !keep_orientation;
    result.fail = fail_policy == "none"      ? fail_on::none
                  : fail_policy == "error"   ? fail_on::error
                  : fail_policy == "warning" ? fail_on::warning
                                             : fail_on::truncated;
    return result;
}

void write_flags::add_to(CLI::App& sub) {
    sub.add_option("-q,--quality", quality, "Quality 1-100 for lossy formats")->check(whole_number(1, 100));
    sub.add_flag("--strip-metadata", strip_metadata, "Leave ICC profile, EXIF and XMP out of the output");
    sub.add_option("-O,--format-option", format_options,
                   "Saver option, as libvips names it: NAME=VALUE or NAME (repeatable), e.g. lossless, effort=6, "
                   "compression=lzw");
}

write_options write_flags::options() const {
    return {.quality = quality, .strip_metadata = strip_metadata, .format_options = format_options};
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
