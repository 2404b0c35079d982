// Integer token parsing for `strata demo sum` and `strata demo sort`.
#include "integer_input.hpp"

#include <fmt/format.h>

namespace strata::cli {

namespace {

// Why `token` is not a valid int64, or empty when it is (value in `value`).
std::string check_token(std::string_view token, std::int64_t& value) {
    std::int64_t parsed = 0;
    const part_result result = parse_part(token, 0, token.size(), [&](std::int64_t v) { parsed = v; });
    if (result.error_at == part_result::no_error && result.count == 1) {
        value = parsed;
        return {};
    }
    const char* first = token.data() + (token.starts_with('+') ? 1 : 0);
    std::int64_t ignored = 0;
    if (std::from_chars(first, token.data() + token.size(), ignored).ec == std::errc::result_out_of_range) {
        return "is out of the 64-bit integer range";
    }
    return "is not an integer";
}

std::string shorten(std::string_view token) {
    return token.size() <= 40 ? std::string(token) : std::string(token.substr(0, 37)) + "...";
}

}  // namespace

std::string describe_bad_token(std::string_view text, std::uint64_t at, std::string_view source) {
    at = std::min<std::uint64_t>(at, text.size());
    std::size_t line = 1;
    std::size_t line_start = 0;
    std::size_t tokens_before = 0;
    for (std::size_t i = 0; i < at; ++i) {
        if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1]))) ++tokens_before;
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    std::size_t token_end = at;
    while (token_end < text.size() && !is_space(text[token_end])) ++token_end;
    const std::string_view token = text.substr(at, token_end - at);
    std::int64_t ignored = 0;
    return fmt::format("{}: line {}, column {}: token {} '{}' {}", source, line, at - line_start + 1, tokens_before + 1,
                       shorten(token), check_token(token, ignored));
}

void parse_integers(std::string_view text, std::vector<std::int64_t>& out, std::string_view source) {
    const part_result result = parse_part(text, 0, text.size(), [&](std::int64_t value) { out.push_back(value); });
    if (result.error_at != part_result::no_error) throw input_error(describe_bad_token(text, result.error_at, source));
}

std::vector<std::int64_t> parse_arguments(const std::vector<std::string>& arguments) {
    std::vector<std::int64_t> values;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        std::int64_t value = 0;
        if (arguments[i].empty()) throw input_error(fmt::format("argument {} is empty, not an integer", i + 1));
        if (const auto why = check_token(arguments[i], value); !why.empty()) {
            throw input_error(fmt::format("argument {} '{}' {}", i + 1, shorten(arguments[i]), why));
        }
        values.push_back(value);
    }
    return values;
}

}  // namespace strata::cli
