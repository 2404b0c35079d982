// Validators for strata's command-line options.
#include "validators.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace strata::cli {

CLI::Validator one_of(std::vector<std::string> choices) {
    const std::string description = fmt::format("{}", fmt::join(choices, "|"));
    return CLI::Validator(
        [choices = std::move(choices)](std::string& value) -> std::string {
            if (std::find(choices.begin(), choices.end(), value) != choices.end()) return {};
            return fmt::format("'{}' is not one of {}", value, fmt::join(choices, ", "));
        },
        description);
}

CLI::Validator whole_number(std::int64_t low, std::int64_t high) {
    return CLI::Validator(
        [low, high](std::string& value) -> std::string {
            std::int64_t number = 0;
            const auto* end = value.data() + value.size();
            const auto [stop, problem] = std::from_chars(value.data(), end, number);
            if (problem == std::errc::result_out_of_range || (problem == std::errc{} && stop == end &&
                                                              (number < low || number > high))) {
                return fmt::format("{} is out of range; accepted: {} to {}", value, low, high);
            }
            if (problem != std::errc{} || stop != end) {
                return fmt::format("'{}' is not a whole number; accepted: {} to {}", value, low, high);
            }
            return {};
        },
        fmt::format("{}..{}", low, high));
}

CLI::Validator seconds_up_to(double high) {
    return CLI::Validator(
        [high](std::string& value) -> std::string {
            double number = 0;
            const auto* end = value.data() + value.size();
            const auto [stop, problem] = std::from_chars(value.data(), end, number);
            if (problem != std::errc{} || stop != end || !(number >= 0 && number <= high)) {
                return fmt::format("'{}' is not a number of seconds; accepted: 0 (no limit) to {}", value, high);
            }
            return {};
        },
        "SECONDS");
}

}  // namespace strata::cli
