// `strata demo sum`: each worker sums its chunk of a shared array; the parent
// adds the partial sums. 128-bit accumulation, so no input can overflow it.
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "demo.hpp"
#include "integer_input.hpp"
#include "strata/pool.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

__extension__ using int128 = __int128;  // GNU extension: exact totals for any input

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

int128 sum_range(const std::int64_t* first, std::size_t count) {
    int128 total = 0;
    for (std::size_t i = 0; i < count; ++i) total += first[i];
    return total;
}

STRATA_TASK(demo_sum_chunk, [](strata::shared_array<std::int64_t> numbers, std::uint64_t first, std::uint64_t count) {
    if (first > numbers.size() || count > numbers.size() - first) throw std::out_of_range("chunk outside the array");
    return wide::from(sum_range(numbers.data() + first, count));
});

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

struct sum_options : demo_options {
    std::int64_t count = -1;
    std::string file;
};

int run_sum(const sum_options& options) {
    const unsigned workers = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());

    // The pool starts first, while this process has one thread, so it can fork.
    std::unique_ptr<pool> processes;
    double pool_start = 0;
    if (options.backend == "processes") {
        const auto start = std::chrono::steady_clock::now();
        processes = std::make_unique<pool>(pool_options{.processes = workers});
        pool_start = seconds_since(start);
    }

    shared_array<std::int64_t> numbers;
    try {
        if (options.count >= 0) {
            numbers = shared_array<std::int64_t>(static_cast<std::size_t>(options.count));
            std::iota(numbers.begin(), numbers.end(), std::int64_t{0});
        } else {
            std::vector<std::int64_t> values;
            if (options.file.empty() || options.file == "-") {
                values = read_integers(std::cin, "standard input");
            } else {
                std::ifstream in(options.file);
                if (!in) throw error(fmt::format("cannot read {}", options.file));
                values = read_integers(in, options.file);
            }
            numbers = shared_array<std::int64_t>(values.size());
            std::copy(values.begin(), values.end(), numbers.begin());
        }
    } catch (const input_error& e) {
        fmt::print(stderr, "strata demo sum: {}\n", e.what());
        return exit_usage;
    }

    // One chunk per worker, as in the classic exercise.
    const std::size_t n = numbers.size();
    const std::size_t chunks = std::min<std::size_t>(workers, std::max<std::size_t>(n, 1));
    auto chunk_first = [&](std::size_t c) { return n * c / chunks; };

    const auto start = std::chrono::steady_clock::now();
    int128 total = 0;
    if (options.backend == "processes") {
        std::vector<future<wide>> partials;
        for (std::size_t c = 0; c < chunks; ++c) {
            partials.push_back(processes->submit(demo_sum_chunk, numbers, std::uint64_t{chunk_first(c)},
                                                 std::uint64_t{chunk_first(c + 1) - chunk_first(c)}));
        }
        for (auto& partial : partials) total += partial.get().value();
    } else if (options.backend == "threads") {
        std::vector<int128> partials(chunks);
        tbb::parallel_for(std::size_t{0}, chunks, [&](std::size_t c) {
            partials[c] = sum_range(numbers.data() + chunk_first(c), chunk_first(c + 1) - chunk_first(c));
        });
        for (const auto partial : partials) total += partial;
    } else {
        total = sum_range(numbers.data(), n);
    }
    const double parallel_seconds = seconds_since(start);

    const auto serial_start = std::chrono::steady_clock::now();
    const int128 serial_total = sum_range(numbers.data(), n);
    const double serial_seconds = seconds_since(serial_start);
    if (serial_total != total) throw error("parallel and serial totals differ");

    fmt::print("total: {}\n", to_string(total));
    fmt::print("count: {}\n", n);
    fmt::print("time: {:.4f} s ({}, {} worker{}, {} chunk{}){}\n", parallel_seconds, options.backend, workers,
               workers == 1 ? "" : "s", chunks, chunks == 1 ? "" : "s",
               processes ? fmt::format("; pool start-up {:.4f} s not included", pool_start) : "");
    fmt::print("serial time: {:.4f} s (speed-up {:.2f}x)\n", serial_seconds,
               parallel_seconds > 0 ? serial_seconds / parallel_seconds : 0.0);
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
    sub.footer("Without --count or --input, numbers are read from standard input.");
    return [options] { return run_sum(*options); };
}

}  // namespace strata::cli
