// `strata demo sum`: each worker parses its part of the input and sums it
// (or, for --count, fills its part of a shared array and sums that); the
// parent adds the partial sums. 128-bit accumulation, so no input can
// overflow it.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <numeric>

#include "demo.hpp"
#include "demo_text.hpp"
#include "integer_input.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

__extension__ using int128 = __int128;  // GNU extension: exact totals for any input
using clock_type = std::chrono::steady_clock;

/// A 128-bit total as two halves (the wire format knows no __int128).
struct wide {
    std::int64_t high = 0;
    std::uint64_t low = 0;
    auto fields() { return std::tie(high, low); }

    static wide from(int128 value) {
        return {static_cast<std::int64_t>(value >> 64), static_cast<std::uint64_t>(value)};
    }
    int128 value() const { return (static_cast<int128>(high) << 64) | static_cast<int128>(low); }
};

/// What one part came to, and how long its two steps took.
struct part_sum {
    std::uint64_t count = 0;
    std::uint64_t error_at = part_result::no_error;
    wide total;
    double load_seconds = 0;  ///< parsing the text, or filling the numbers
    double sum_seconds = 0;
    auto fields() { return std::tie(count, error_at, total, load_seconds, sum_seconds); }
};

void sum_into(part_sum& result, const std::int64_t* first, clock_type::time_point loaded) {
    result.load_seconds = std::chrono::duration<double>(clock_type::now() - loaded).count();
    const auto start = clock_type::now();
    int128 total = 0;
    for (std::uint64_t i = 0; i < result.count; ++i) total += first[i];
    result.total = wide::from(total);
    result.sum_seconds = seconds_since(start);
}

void check_room(const shared_array<std::int64_t>& numbers, std::uint64_t first, std::uint64_t count) {
    if (first > numbers.size() || count > numbers.size() - first) throw std::out_of_range("part outside the array");
}

// Parses part `part` of `parts` of the text and sums it. The numbers go
// through a small buffer that stays in the cache, summed each time it fills:
// the parse and the sum are timed apart, and no array of them is written.
part_sum sum_text_part(file_descriptor text, std::uint64_t size, std::uint64_t part, std::uint64_t parts) {
    const std::uint64_t first = part_start(size, parts, part);
    const std::uint64_t last = part_start(size, parts, part + 1);
    const mapped_text mapped(text, size, first, last);
    constexpr std::size_t buffer_size = 4096;
    std::array<std::int64_t, buffer_size> buffer;
    std::size_t held = 0;
    int128 total = 0;
    clock_type::duration summing{};
    const auto add_up = [&] {
        const auto start = clock_type::now();
        for (std::size_t i = 0; i < held; ++i) total += buffer[i];
        summing += clock_type::now() - start;
        held = 0;
    };
    const auto start = clock_type::now();
    const part_result parsed = parse_part(mapped.text(), first, last, [&](std::int64_t value) {
        buffer[held++] = value;
        if (held == buffer_size) add_up();
    });
    add_up();
    const auto sum_seconds = std::chrono::duration<double>(summing).count();
    return {.count = parsed.count,
            .error_at = parsed.error_at,
            .total = wide::from(total),
            .load_seconds = seconds_since(start) - sum_seconds,
            .sum_seconds = sum_seconds};
}

// Fills numbers[first, first + count) with first, first + 1, ... (the pages
// are first touched here, in the worker), then sums them.
part_sum sum_count_part(shared_array<std::int64_t> numbers, std::uint64_t first, std::uint64_t count) {
    const auto start = clock_type::now();
    check_room(numbers, first, count);
    std::iota(numbers.data() + first, numbers.data() + first + count, static_cast<std::int64_t>(first));
    part_sum result{.count = count};
    sum_into(result, numbers.data() + first, start);
    return result;
}

STRATA_TASK(demo_sum_text_part, sum_text_part);
STRATA_TASK(demo_sum_count_part, sum_count_part);

std::string to_string(int128 value) {
    if (value == 0) return "0";
    const bool negative = value < 0;
    std::string digits;
    while (value != 0) {
        const int digit = static_cast<int>(value % 10);
        digits.push_back(static_cast<char>('0' + (negative ? -digit : digit)));
        value /= 10;
    }
    if (negative) digits.push_back('-');
    return {digits.rbegin(), digits.rend()};
}

// " (13.2 GB/s, ...)": how fast the sum went through its numbers, and what
// bounds it. From a text, each part sums a small buffer that stays in the
// cache. With --count it streams an array larger than the cores' own caches
// (L2): one addition per 8 bytes read, so the bandwidth of the shared cache
// and of memory sets the pace, not the cores.
std::string sum_rate(std::uint64_t count, double seconds, unsigned parts, bool from_array) {
    const std::uint64_t bytes = count * sizeof(std::int64_t);
    const double rate = seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0.0;
    const long cache = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
    const char* bound = !from_array ? ", from a buffer in the cache"
                        : cache > 0 && bytes > static_cast<std::uint64_t>(cache) * std::max(1u, parts)
                            ? ", bandwidth-bound: one addition per 8 bytes streamed from the shared cache or memory"
                            : "";
    return fmt::format(" ({:.1f} GB/s{})", rate, bound);
}

struct sum_options : demo_options {
    std::int64_t count = -1;
    std::string file;
};

// The parts of a text, each parsed and summed by one job.
std::vector<part_sum> sum_text(demo_runner& runner, const text_source& source) {
    const std::uint64_t parts = runner.parts();
    std::vector<std::tuple<file_descriptor, std::uint64_t, std::uint64_t, std::uint64_t>> calls;
    for (std::uint64_t p = 0; p < parts; ++p) calls.emplace_back(source.fd, source.size, p, parts);
    auto results = runner.run(demo_sum_text_part, sum_text_part, calls);
    check_parts(source, results);
    return results;
}

std::vector<part_sum> sum_count(demo_runner& runner, std::uint64_t count) {
    const std::uint64_t parts = std::clamp<std::uint64_t>(count, 1, runner.parts());
    const shared_array<std::int64_t> numbers(count);
    std::vector<std::tuple<shared_array<std::int64_t>, std::uint64_t, std::uint64_t>> calls;
    for (std::uint64_t p = 0; p < parts; ++p) {
        calls.emplace_back(numbers, part_start(count, parts, p), part_start(count, parts, p + 1) - part_start(count, parts, p));
    }
    return runner.run(demo_sum_count_part, sum_count_part, calls);
}

int run_sum(const sum_options& options) {
    demo_runner runner(options);
    const auto start = clock_type::now();
    std::vector<part_sum> parts;
    double read_seconds = 0;
    try {
        if (options.count >= 0) {
            parts = sum_count(runner, static_cast<std::uint64_t>(options.count));
        } else {
            const text_source source = open_text(options.file);
            read_seconds = source.read_seconds;
            parts = sum_text(runner, source);
        }
    } catch (const input_error& e) {
        fmt::print(stderr, "strata demo sum: {}\n", e.what());
        return exit_usage;
    }
    int128 total = 0;
    std::uint64_t count = 0;
    double load_seconds = 0;
    double sum_seconds = 0;
    for (const auto& part : parts) {
        total += part.total.value();
        count += part.count;
        load_seconds = std::max(load_seconds, part.load_seconds);
        sum_seconds = std::max(sum_seconds, part.sum_seconds);
    }
    const double seconds = seconds_since(start);

    fmt::print("total: {}\n", to_string(total));
    fmt::print("count: {}\n", count);
    fmt::print("time: {} from input to answer ({})\n", format_seconds(seconds), runner.describe());
    const std::string read = read_seconds > 0 ? fmt::format("read {}, ", format_seconds(read_seconds)) : "";
    fmt::print("steps: {}{} {}, sum alone {}{} (the slowest part of each)\n", read, options.count >= 0 ? "fill" : "parse",
               format_seconds(load_seconds), format_seconds(sum_seconds),
               sum_rate(count, sum_seconds, runner.parts(), options.count >= 0));
    return exit_ok;
}

}  // namespace

runner setup_demo_sum(CLI::App& sub) {
    auto options = std::make_shared<sum_options>();
    auto* count = sub.add_option("-n,--count", options->count, "Sum 0..N-1 instead of reading numbers")
                      ->check(whole_number(0, 4'000'000'000));
    sub.add_option("-i,--input", options->file, "Read whitespace-separated integers from this file (- : stdin)")
        ->excludes(count);
    add_demo_options(sub, *options);
    sub.footer("Without --count or --input, numbers are read from standard input. Each worker parses its own part\n"
               "of the input (a file is mapped as it is; standard input is first copied into memory) and sums it.");
    return [options] { return run_sum(*options); };
}

}  // namespace strata::cli
