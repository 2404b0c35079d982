// Reading whitespace-separated 64-bit integers for the demos, part by part
// (so that several workers can parse one text), with errors that name the
// bad token and where it is.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.hpp"

namespace strata::cli {

/// A token that is not a 64-bit integer. what(): "line 2, column 5: token 7
/// '12x' is not an integer".
class input_error : public error {
public:
    using error::error;
};

/// What parsing one part of a text found.
struct part_result {
    static constexpr std::uint64_t no_error = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t count = 0;           ///< integers parsed
    std::uint64_t error_at = no_error;  ///< offset of the first bad token in the text
};

/// The whitespace the parser splits at (as std::isspace in the C locale).
constexpr bool is_space(char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

__extension__ using uint128 = unsigned __int128;  // GNU extension: exact size * part

/// Offset where part `part` of `parts` equal parts of `size` bytes begins.
constexpr std::uint64_t part_start(std::uint64_t size, std::uint64_t parts, std::uint64_t part) noexcept {
    return static_cast<std::uint64_t>(static_cast<uint128>(size) * part / parts);
}

/// The most tokens that can start within `bytes` bytes (each is followed by
/// whitespace or the end), so a caller can reserve room before parsing.
constexpr std::uint64_t most_tokens(std::uint64_t bytes) noexcept { return bytes / 2 + 1; }

/// Parses the tokens of `text` that start in [first, last) and calls
/// sink(value) for each, in order. A token belongs to the part its first
/// character is in, so consecutive parts parse every token exactly once,
/// however the bounds fall. Stops at the first bad token, giving its offset.
template <class Sink>
part_result parse_part(std::string_view text, std::uint64_t first, std::uint64_t last, Sink&& sink) {
    const char* const begin = text.data();
    const char* const end = begin + text.size();
    const char* p = begin + std::min<std::uint64_t>(first, text.size());
    const char* const stop = begin + std::min<std::uint64_t>(last, text.size());
    if (p > begin && !is_space(p[-1])) {
        while (p < end && !is_space(*p)) ++p;  // the token under way is the previous part's
    }
    part_result result;
    while (true) {
        while (p < stop && is_space(*p)) ++p;
        if (p >= stop) break;
        const char* digits = p + (*p == '+' ? 1 : 0);  // from_chars takes '-' but not '+'
        std::int64_t value = 0;
        const auto [after, problem] = std::from_chars(digits, end, value);
        if (problem != std::errc{} || (after < end && !is_space(*after)) || (digits != p && *digits == '-')) {
            result.error_at = static_cast<std::uint64_t>(p - begin);
            return result;
        }
        sink(value);
        ++result.count;
        p = after;
    }
    return result;
}

/// The message for the bad token at `at`: "SOURCE: line L, column C: token N
/// 'TOKEN' is not an integer" (or "is out of the 64-bit integer range").
std::string describe_bad_token(std::string_view text, std::uint64_t at, std::string_view source);

/// Appends the integers in `text` to `out`; throws input_error at the first
/// bad token. `source` names where the text came from.
void parse_integers(std::string_view text, std::vector<std::int64_t>& out, std::string_view source);

/// Parses each argument as one integer ("argument 3 'x' is not an integer").
std::vector<std::int64_t> parse_arguments(const std::vector<std::string>& arguments);

}  // namespace strata::cli
