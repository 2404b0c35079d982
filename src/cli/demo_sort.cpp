// `strata demo sort`: workers sort slices of a shared array in place, then
// merge neighbouring runs pairwise (again in the workers) until one is left.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "demo.hpp"
#include "integer_input.hpp"
#include "strata/pool.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

using numbers = shared_array<std::int64_t>;

void check_range(const numbers& array, std::uint64_t first, std::uint64_t last) {
    if (first > last || last > array.size()) throw std::out_of_range("range outside the array");
}

STRATA_TASK(demo_sort_slice, [](numbers array, std::uint64_t first, std::uint64_t last) {
    check_range(array, first, last);
    std::sort(array.data() + first, array.data() + last);
});

// How many of the first `k` merged elements come from run a (ties go to a,
// as in std::merge): the split point that lets several workers merge one
// pair of runs, each writing its own stretch of the output.
std::size_t co_rank(std::size_t k, const std::int64_t* a, std::size_t a_size, const std::int64_t* b, std::size_t b_size) {
    std::size_t low = k > b_size ? k - b_size : 0;
    std::size_t high = std::min(k, a_size);
    while (low < high) {
        const std::size_t mid = low + (high - low) / 2;
        if (a[mid] <= b[k - mid - 1]) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return low;
}

// Writes positions [out_first, out_last) (relative to `first`) of the merge of
// the sorted runs [first, middle) and [middle, last) of `from` into `to`.
void merge_piece(const std::int64_t* from, std::int64_t* to, std::size_t first, std::size_t middle, std::size_t last,
                 std::size_t out_first, std::size_t out_last) {
    const std::int64_t* a = from + first;
    const std::int64_t* b = from + middle;
    const std::size_t a_size = middle - first;
    const std::size_t b_size = last - middle;
    const std::size_t a_begin = co_rank(out_first, a, a_size, b, b_size);
    const std::size_t a_end = co_rank(out_last, a, a_size, b, b_size);
    std::merge(a + a_begin, a + a_end, b + (out_first - a_begin), b + (out_last - a_end), to + first + out_first);
}

STRATA_TASK(demo_merge_piece, [](numbers from, numbers to, std::uint64_t first, std::uint64_t middle, std::uint64_t last,
                                 std::uint64_t out_first, std::uint64_t out_last) {
    check_range(from, first, last);
    check_range(to, first, last);
    if (middle < first || middle > last || out_first > out_last || out_last > last - first) {
        throw std::out_of_range("merge piece outside its runs");
    }
    merge_piece(from.data(), to.data(), first, middle, last, out_first, out_last);
});

/// One unit of work: sort [first, middle) (when sorting), or write output
/// stretch [out_first, out_last) of merging [first, middle) with [middle, last).
struct job {
    std::size_t first, middle, last, out_first, out_last;
};

struct sort_options : demo_options {
    std::vector<std::string> values;
    std::int64_t random = -1;
    std::uint64_t seed = 1;
    bool check = false;
    bool quiet = false;
};

// The merge jobs of one round, and the run boundaries after it. Pairs of
// neighbouring runs merge; each pair is cut into enough output stretches to
// keep every worker busy; an odd run out is copied.
std::vector<std::size_t> merge_round(const std::vector<std::size_t>& bounds, std::size_t workers, std::vector<job>& jobs) {
    std::vector<std::size_t> next{0};
    jobs.clear();
    const std::size_t pairs = (bounds.size() - 1 + 1) / 2;
    const std::size_t pieces = std::max<std::size_t>(1, workers / pairs);
    for (std::size_t r = 0; r + 1 < bounds.size(); r += 2) {
        const std::size_t first = bounds[r];
        const std::size_t middle = bounds[r + 1];
        const std::size_t last = r + 2 < bounds.size() ? bounds[r + 2] : middle;
        for (std::size_t p = 0; p < pieces; ++p) {
            jobs.push_back({first, middle, last, (last - first) * p / pieces, (last - first) * (p + 1) / pieces});
        }
        next.push_back(last);
    }
    return next;
}

template <class RunAll>
numbers parallel_sort(numbers data, std::size_t slices, std::size_t workers, RunAll&& run_all) {
    const std::size_t n = data.size();
    std::vector<std::size_t> bounds;
    for (std::size_t s = 0; s <= slices; ++s) bounds.push_back(n * s / slices);

    std::vector<job> jobs;
    for (std::size_t s = 0; s < slices; ++s) jobs.push_back({bounds[s], bounds[s + 1], bounds[s + 1], 0, 0});
    run_all(data, data, jobs, true);

    numbers spare(n);
    while (bounds.size() > 2) {
        bounds = merge_round(bounds, workers, jobs);
        run_all(data, spare, jobs, false);
        std::swap(data, spare);
    }
    return data;
}

void print_numbers(const numbers& sorted) {
    std::string out;
    out.reserve(1 << 20);
    for (const auto value : sorted) {
        fmt::format_to(std::back_inserter(out), "{}\n", value);
        if (out.size() > (1 << 20) - 32) {
            std::fwrite(out.data(), 1, out.size(), stdout);
            out.clear();
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_sort(const sort_options& options) {
    const unsigned workers = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    std::unique_ptr<pool> processes;
    if (options.backend == "processes") processes = std::make_unique<pool>(pool_options{.processes = workers});

    std::vector<std::int64_t> input;
    try {
        if (options.random >= 0) {
            std::mt19937_64 generator(options.seed);
            input.resize(static_cast<std::size_t>(options.random));
            for (auto& value : input) value = static_cast<std::int64_t>(generator());
        } else if (!options.values.empty()) {
            input = parse_arguments(options.values);
        } else {
            input = read_integers(std::cin, "standard input");
        }
    } catch (const input_error& e) {
        fmt::print(stderr, "strata demo sort: {}\n", e.what());
        return exit_usage;
    }
    if (input.empty()) {
        fmt::print(stderr, "strata demo sort: no numbers to sort (give them as arguments, on standard input, or use --random N)\n");
        return exit_usage;
    }

    numbers data(input.size());
    std::copy(input.begin(), input.end(), data.begin());
    const std::size_t slices = std::min<std::size_t>(workers, input.size());

    const auto start = std::chrono::steady_clock::now();
    numbers sorted;
    if (options.backend == "processes") {
        sorted = parallel_sort(data, slices, workers, [&](const numbers& from, const numbers& to, const auto& jobs, bool sorting) {
            std::vector<future<void>> done;
            for (const auto& j : jobs) {
                done.push_back(sorting ? processes->submit(demo_sort_slice, from, std::uint64_t{j.first}, std::uint64_t{j.middle})
                                       : processes->submit(demo_merge_piece, from, to, std::uint64_t{j.first},
                                                           std::uint64_t{j.middle}, std::uint64_t{j.last},
                                                           std::uint64_t{j.out_first}, std::uint64_t{j.out_last}));
            }
            for (auto& f : done) f.get();
        });
    } else if (options.backend == "threads") {
        sorted = parallel_sort(data, slices, workers, [](const numbers& from, const numbers& to, const auto& jobs, bool sorting) {
            tbb::parallel_for(std::size_t{0}, jobs.size(), [&](std::size_t i) {
                const auto& j = jobs[i];
                if (sorting) {
                    std::sort(from.data() + j.first, from.data() + j.middle);
                } else {
                    merge_piece(from.data(), to.data(), j.first, j.middle, j.last, j.out_first, j.out_last);
                }
            });
        });
    } else {
        std::sort(data.begin(), data.end());
        sorted = data;
    }
    const double seconds = seconds_since(start);

    if (!options.quiet) print_numbers(sorted);
    fmt::print(stderr, "sorted {} numbers in {:.4f} s ({}, {} worker{})\n", sorted.size(), seconds, options.backend,
               workers, workers == 1 ? "" : "s");
    if (options.check) {
        std::sort(input.begin(), input.end());
        const bool ok = std::equal(input.begin(), input.end(), sorted.begin(), sorted.end());
        fmt::print(stderr, "check: {}\n", ok ? "sorted, and a permutation of the input" : "FAILED");
        if (!ok) return exit_failure;
    }
    return exit_ok;
}

}  // namespace

runner setup_demo_sort(CLI::App& sub) {
    auto options = std::make_shared<sort_options>();
    sub.add_option("numbers", options->values, "Numbers to sort (default: read from standard input)");
    auto* random = sub.add_option("--random", options->random, "Sort N random 64-bit integers instead")
                       ->check(whole_number(1, 2'000'000'000));
    sub.add_option("--seed", options->seed, "Seed for --random")->capture_default_str()->needs(random);
    sub.add_flag("--check", options->check, "Verify the output is sorted and a permutation of the input");
    sub.add_flag("-q,--quiet", options->quiet, "Do not print the sorted numbers");
    add_demo_options(sub, *options);
    return [options] { return run_sort(*options); };
}

}  // namespace strata::cli
