// Reading whitespace-separated 64-bit integers for the demos, with errors
// that name the bad token and where it is.
#pragma once

#include <cstdint>
#include <istream>
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

/// Appends the integers in `text` to `out`. `first_token` numbers the tokens
/// (1-based) across calls; `source` names where the text came from.
void parse_integers(std::string_view text, std::vector<std::int64_t>& out, std::string_view source);

/// Reads all of `in` and parses it.
std::vector<std::int64_t> read_integers(std::istream& in, std::string_view source);

/// Parses each argument as one integer ("argument 3 'x' is not an integer").
std::vector<std::int64_t> parse_arguments(const std::vector<std::string>& arguments);

}  // namespace strata::cli
