// --fail-on and --max-pixels, declared once for every command that reads images.
#include "load_flags.hpp"

#include <limits>

#include "validators.hpp"

namespace strata::cli {

void load_flags::add_to(CLI::App& sub) {
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
    result.fail = fail_policy == "none"      ? fail_on::none
                  : fail_policy == "error"   ? fail_on::error
                  : fail_policy == "warning" ? fail_on::warning
                                             : fail_on::truncated;
    return result;
}

}  // namespace strata::cli
