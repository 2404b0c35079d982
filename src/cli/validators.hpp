// CLI11 validators whose error messages name the value and the accepted range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace strata::cli {

/// Accepts exactly one of `choices` (case-sensitive):
/// "--backend: 'gpu' is not one of processes, threads, serial".
CLI::Validator one_of(std::vector<std::string> choices);

/// Accepts a whole number in [low, high]:
/// "--workers: 0 is out of range; accepted: 1 to 1024".
CLI::Validator whole_number(std::int64_t low, std::int64_t high);

/// Accepts a number of seconds in [0, high], fractions allowed:
/// "--timeout: '10m' is not a number of seconds; accepted: 0 to 86400".
CLI::Validator seconds_up_to(double high);

}  // namespace strata::cli
