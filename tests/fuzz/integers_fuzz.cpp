// Fuzz target: the sort demo's input parser. Either every whitespace-separated
// token becomes one value, and the values written out parse back to the same
// list, or input_error names a line and column inside the text.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/integer_input.hpp"

namespace {

[[noreturn]] void fail(const std::string& what) {
    fmt::print(stderr, "integers_fuzz: {}\n", what);
    std::abort();
}

std::size_t tokens_in(std::string_view text) {
    std::size_t count = 0;
    bool in_token = false;
    for (const char c : text) {
        const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (!space && !in_token) ++count;
        in_token = !space;
    }
    return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::int64_t> values;
    try {
        strata::cli::parse_integers(text, values, "input");
    } catch (const strata::cli::input_error& e) {
        if (!std::string_view(e.what()).starts_with("input: line ")) fail(fmt::format("unexpected message: {}", e.what()));
        return 0;
    }
    if (values.size() != tokens_in(text)) fail("not one value per token");
    std::vector<std::int64_t> again;
    strata::cli::parse_integers(fmt::format("{}", fmt::join(values, "\n")), again, "written out");
    if (again != values) fail("the values written out parse to others");
    return 0;
}
