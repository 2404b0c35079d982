// Integer token parsing for `strata demo sum` and `strata demo sort`.
#include "integer_input.hpp"

#include <cctype>
#include <charconv>
#include <iterator>

#include <fmt/format.h>

namespace strata::cli {

namespace {

// Why `token` is not a valid int64, or empty when it is (value in `value`).
std::string check_token(std::string_view token, std::int64_t& value) {
    const char* first = token.data();
    const char* last = token.data() + token.size();
    if (*first == '+') ++first;  // from_chars takes '-' but not '+'
    const auto [stop, problem] = std::from_chars(first, last, value);
    if (problem == std::errc::result_out_of_range) return "is out of the 64-bit integer range";
    if (problem != std::errc{} || stop != last || first == last) return "is not an integer";
    return {};
}

std::string shorten(std::string_view token) {
    return token.size() <= 40 ? std::string(token) : std::string(token.substr(0, 37)) + "...";
}

}  // namespace

void parse_integers(std::string_view text, std::vector<std::int64_t>& out, std::string_view source) {
    std::size_t line = 1;
    std::size_t line_start = 0;
    std::size_t i = 0;
    std::size_t token_number = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            line_start = ++i;
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        const std::string_view token = text.substr(start, i - start);
        ++token_number;
        std::int64_t value = 0;
        if (const auto why = check_token(token, value); !why.empty()) {
            throw input_error(fmt::format("{}: line {}, column {}: token {} '{}' {}", source, line,
                                          start - line_start + 1, token_number, shorten(token), why));
        }
        out.push_back(value);
    }
}

std::vector<std::int64_t> read_integers(std::istream& in, std::string_view source) {
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::int64_t> values;
    values.reserve(text.size() / 8);
    parse_integers(text, values, source);
    return values;
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
