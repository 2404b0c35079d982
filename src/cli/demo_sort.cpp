// `strata demo sort`: each worker parses (or, for --random, generates) its
// part of the numbers into a shared array and sorts it; neighbouring runs are
// then merged pairwise, again in the workers, until one is left.
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "demo.hpp"
#include "demo_text.hpp"
#include "integer_input.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

using numbers = shared_array<std::int64_t>;
using clock_type = std::chrono::steady_clock;

void check_range(const numbers& array, std::uint64_t first, std::uint64_t count) {
    if (first > array.size() || count > array.size() - first) throw std::out_of_range("range outside the array");
}

/// What one part came to, and how long its two steps took.
struct part_sort {
    std::uint64_t count = 0;
    std::uint64_t error_at = part_result::no_error;
    double load_seconds = 0;  ///< parsing the text, or generating the numbers
    double sort_seconds = 0;
    auto fields() { return std::tie(count, error_at, load_seconds, sort_seconds); }
};

void sort_loaded(part_sort& result, std::int64_t* first, clock_type::time_point loaded) {
    result.load_seconds = seconds_since(loaded);
    const auto start = clock_type::now();
    std::sort(first, first + result.count);
    result.sort_seconds = seconds_since(start);
}

// Parses part `part` of `parts` of the text into array[slot...] and sorts it.
part_sort sort_text_part(file_descriptor text, std::uint64_t size, numbers array, std::uint64_t slot, std::uint64_t part,
                         std::uint64_t parts) {
    const auto start = clock_type::now();
    const std::uint64_t first = part_start(size, parts, part);
    const std::uint64_t last = part_start(size, parts, part + 1);
    check_range(array, slot, most_tokens(last - first));
    const mapped_text mapped(text, size, first, last);
    std::int64_t* out = array.data() + slot;
    write_ahead backing(out, out + most_tokens(last - first));
    const part_result parsed = parse_part(mapped.text(), first, last, [&](std::int64_t value) {
        backing.reach(out);
        *out++ = value;
    });
    part_sort result{.count = parsed.count, .error_at = parsed.error_at};
    if (parsed.error_at == part_result::no_error) sort_loaded(result, array.data() + slot, start);
    return result;
}

// The i-th output of splitmix64 started at `seed`: the same numbers however
// the array is cut into parts.
std::int64_t random_number(std::uint64_t seed, std::uint64_t i) {
    std::uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::int64_t>(z ^ (z >> 31));
}

// Generates numbers first..first+count-1 of the seed's sequence into the
// array (the pages are first touched here, in the worker) and sorts them.
part_sort sort_random_part(numbers array, std::uint64_t first, std::uint64_t count, std::uint64_t seed) {
    const auto start = clock_type::now();
    check_range(array, first, count);
    for (std::uint64_t i = 0; i < count; ++i) array[first + i] = random_number(seed, first + i);
    part_sort result{.count = count};
    sort_loaded(result, array.data() + first, start);
    return result;
}

// Sorts numbers the parent put in the array (given as arguments).
part_sort sort_given_part(numbers array, std::uint64_t first, std::uint64_t count) {
    check_range(array, first, count);
    part_sort result{.count = count};
    sort_loaded(result, array.data() + first, clock_type::now());
    return result;
}

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

/// Two sorted runs of `from` (b may be empty), merged into `to` at `out`.
struct merge_pair {
    std::uint64_t a_first = 0, a_size = 0, b_first = 0, b_size = 0, out = 0;
    auto fields() { return std::tie(a_first, a_size, b_first, b_size, out); }
};

/// The stretches of runs a and b that make up elements [first, last) of
/// their merge.
struct merge_inputs {
    const std::int64_t *a, *a_end, *b, *b_end;
};

// Checks a piece of a merge against the array, finds its inputs (co-rank),
// and maps their pages in one go.
merge_inputs inputs_of(const numbers& from, const merge_pair& pair, std::uint64_t first, std::uint64_t last) {
    check_range(from, pair.a_first, pair.a_size);
    check_range(from, pair.b_first, pair.b_size);
    if (first > last || last > pair.a_size + pair.b_size) throw std::out_of_range("merge piece outside its runs");
    const std::int64_t* a = from.data() + pair.a_first;
    const std::int64_t* b = from.data() + pair.b_first;
    const std::size_t a_begin = co_rank(first, a, pair.a_size, b, pair.b_size);
    const std::size_t a_end = co_rank(last, a, pair.a_size, b, pair.b_size);
    const merge_inputs inputs{a + a_begin, a + a_end, b + (first - a_begin), b + (last - a_end)};
    map_pages(inputs.a, inputs.a_end, false);
    map_pages(inputs.b, inputs.b_end, false);
    return inputs;
}

// Writes elements [piece_first, piece_last) of the merge of `pair` into `to`.
std::uint64_t merge_piece(numbers from, numbers to, merge_pair pair, std::uint64_t piece_first, std::uint64_t piece_last) {
    const merge_inputs in = inputs_of(from, pair, piece_first, piece_last);
    check_range(to, pair.out, pair.a_size + pair.b_size);
    std::int64_t* out = to.data() + pair.out + piece_first;
    map_pages(out, out + (piece_last - piece_first), true);
    std::merge(in.a, in.a_end, in.b, in.b_end, out);
    return piece_last - piece_first;
}

STRATA_TASK(demo_sort_text_part, sort_text_part);
STRATA_TASK(demo_sort_random_part, sort_random_part);
STRATA_TASK(demo_sort_given_part, sort_given_part);
STRATA_TASK(demo_merge_piece, merge_piece);

/// A sorted run: elements [first, first + size) of an array.
struct run {
    std::uint64_t first = 0, size = 0;
};

/// Sorted runs in an array, and how long each step took.
struct sorted_runs {
    numbers array;
    std::vector<run> runs;
    double load_seconds = 0, sort_seconds = 0;
};

sorted_runs collect(numbers array, const std::vector<std::uint64_t>& firsts, const std::vector<part_sort>& parts) {
    sorted_runs sorted{.array = std::move(array)};
    for (std::size_t p = 0; p < parts.size(); ++p) {
        sorted.runs.push_back({firsts[p], parts[p].count});
        sorted.load_seconds = std::max(sorted.load_seconds, parts[p].load_seconds);
        sorted.sort_seconds = std::max(sorted.sort_seconds, parts[p].sort_seconds);
    }
    return sorted;
}

sorted_runs sort_text(demo_runner& runner, const text_source& source) {
    const std::uint64_t parts = runner.parts();
    std::vector<std::uint64_t> slots{0};
    for (std::uint64_t p = 0; p < parts; ++p) {
        slots.push_back(slots.back() + most_tokens(part_start(source.size, parts, p + 1) - part_start(source.size, parts, p)));
    }
    // Room for the most numbers the text could hold; only the pages the
    // parts write are ever backed by memory.
    numbers array(slots.back());
    std::vector<std::tuple<file_descriptor, std::uint64_t, numbers, std::uint64_t, std::uint64_t, std::uint64_t>> calls;
    for (std::uint64_t p = 0; p < parts; ++p) calls.emplace_back(source.fd, source.size, array, slots[p], p, parts);
    const auto results = runner.run(demo_sort_text_part, sort_text_part, calls);
    check_parts(source, results);
    return collect(std::move(array), slots, results);
}

// Cuts [0, count) into the runner's parts and runs `task` on each.
template <class Task, class Function, class... More>
sorted_runs sort_parts(demo_runner& runner, numbers array, std::uint64_t count, const Task& task, Function function,
                       const More&... more) {
    const std::uint64_t parts = std::clamp<std::uint64_t>(count, 1, runner.parts());
    std::vector<std::uint64_t> firsts;
    std::vector<std::tuple<numbers, std::uint64_t, std::uint64_t, More...>> calls;
    for (std::uint64_t p = 0; p < parts; ++p) {
        firsts.push_back(part_start(count, parts, p));
        calls.emplace_back(array, firsts.back(), part_start(count, parts, p + 1) - firsts.back(), more...);
    }
    return collect(std::move(array), firsts, runner.run(task, function, calls));
}

// Merges neighbouring runs pairwise until at most `keep` are left; each pair
// is cut into enough pieces to keep every worker busy, and an odd run out is
// copied.
// Returns how many rounds it took.
int merge_runs(demo_runner& runner, sorted_runs& sorted, std::size_t keep) {
    if (sorted.runs.size() <= keep) return 0;
    int rounds = 0;
    std::uint64_t total = 0;
    for (const auto& r : sorted.runs) total += r.size;
    numbers spare(total);
    while (sorted.runs.size() > keep) {
        const std::size_t pairs = (sorted.runs.size() + 1) / 2;
        const std::size_t pieces = std::max<std::size_t>(1, runner.workers() / pairs);
        std::vector<run> next;
        std::vector<std::tuple<numbers, numbers, merge_pair, std::uint64_t, std::uint64_t>> calls;
        std::uint64_t out = 0;
        for (std::size_t r = 0; r < sorted.runs.size(); r += 2) {
            const run a = sorted.runs[r];
            const run b = r + 1 < sorted.runs.size() ? sorted.runs[r + 1] : run{};
            const std::uint64_t size = a.size + b.size;
            for (std::size_t p = 0; p < pieces; ++p) {
                calls.emplace_back(sorted.array, spare, merge_pair{a.first, a.size, b.first, b.size, out}, size * p / pieces,
                                   size * (p + 1) / pieces);
            }
            next.push_back({out, size});
            out += size;
        }
        runner.run(demo_merge_piece, merge_piece, calls);
        sorted.runs = std::move(next);
        std::swap(sorted.array, spare);
        ++rounds;
    }
    return rounds;
}

void write_all(int fd, const char* text, std::size_t length, const char* what) {
    for (std::size_t written = 0; written < length;) {
        const ssize_t n = ::write(fd, text + written, length - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::system_error(errno, std::generic_category(), what);
        written += static_cast<std::size_t>(n);
    }
}

// Writes elements [piece_first, piece_last) of the merge of `pair` as text,
// one a line, to the file `text`: merged and formatted in one pass into a
// small buffer used again and again, handed to the kernel a buffer at a time
// (first writes to fresh memory cost more than the formatting). Returns the
// bytes written.
std::uint64_t print_piece(numbers from, merge_pair pair, std::uint64_t piece_first, std::uint64_t piece_last,
                          file_descriptor text) {
    merge_inputs in = inputs_of(from, pair, piece_first, piece_last);
    constexpr std::size_t longest_line = 21;  // "-9223372036854775808\n"
    std::vector<char> buffer(std::size_t{1} << 20);
    char* out = buffer.data();
    char* const flush_at = buffer.data() + buffer.size() - longest_line;
    std::uint64_t total = 0;
    const auto flush = [&] {
        write_all(text.get(), buffer.data(), static_cast<std::size_t>(out - buffer.data()), "writing the sorted numbers");
        total += static_cast<std::uint64_t>(out - buffer.data());
        out = buffer.data();
    };
    while (in.a != in.a_end || in.b != in.b_end) {
        // Ties take from a first, as std::merge does.
        const bool take_a = in.b == in.b_end || (in.a != in.a_end && *in.a <= *in.b);
        const fmt::format_int digits(take_a ? *in.a++ : *in.b++);
        out = std::copy_n(digits.data(), digits.size(), out);
        *out++ = '\n';
        if (out >= flush_at) flush();
    }
    flush();
    return total;
}

STRATA_TASK(demo_print_piece, print_piece);

// Copies `length` bytes of the file `text` to standard output.
void copy_to_output(int text, std::uint64_t length) {
    off_t offset = 0;
    while (static_cast<std::uint64_t>(offset) < length) {
        const ssize_t sent = ::sendfile(STDOUT_FILENO, text, &offset, length - static_cast<std::uint64_t>(offset));
        if (sent > 0 || (sent < 0 && errno == EINTR)) continue;
        if (sent == 0 || (errno != EINVAL && errno != ENOSYS)) {
            throw std::system_error(sent == 0 ? EIO : errno, std::generic_category(), "writing to standard output");
        }
        // An output sendfile cannot write to: through a buffer.
        std::vector<char> buffer(std::size_t{1} << 20);
        while (static_cast<std::uint64_t>(offset) < length) {
            const ssize_t got = ::pread(text, buffer.data(), buffer.size(), offset);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) throw std::system_error(got == 0 ? EIO : errno, std::generic_category(), "reading the sorted numbers back");
            write_all(STDOUT_FILENO, buffer.data(), static_cast<std::size_t>(got), "writing to standard output");
            offset += got;
        }
    }
}

// Prints the sorted runs (at most two): each worker merges and writes out
// one piece into a file in memory, and the pieces are copied to standard
// output in order.
void print_numbers(demo_runner& runner, const sorted_runs& sorted) {
    const run a = sorted.runs.front();
    const run b = sorted.runs.size() > 1 ? sorted.runs[1] : run{};
    const merge_pair pair{a.first, a.size, b.first, b.size, 0};
    const std::uint64_t size = a.size + b.size;
    const std::uint64_t pieces = std::clamp<std::uint64_t>(size, 1, runner.parts());
    std::vector<std::tuple<numbers, merge_pair, std::uint64_t, std::uint64_t, file_descriptor>> calls;
    for (std::uint64_t p = 0; p < pieces; ++p) {
        file_descriptor text(::memfd_create("strata-demo-output", MFD_CLOEXEC));
        if (!text) throw std::system_error(errno, std::generic_category(), "memfd_create for the sorted numbers");
        calls.emplace_back(sorted.array, pair, part_start(size, pieces, p), part_start(size, pieces, p + 1), text);
    }
    const auto lengths = runner.run(demo_print_piece, print_piece, calls);
    std::fflush(stdout);
    for (std::size_t p = 0; p < calls.size(); ++p) copy_to_output(std::get<file_descriptor>(calls[p]).get(), lengths[p]);
}

struct sort_options : demo_options {
    std::vector<std::string> values;
    std::string file;
    std::int64_t random = -1;
    std::uint64_t seed = 1;
    bool check = false;
    bool quiet = false;
};

// The input once more, read in this thread alone, for --check.
std::vector<std::int64_t> input_again(const sort_options& options, const text_source* source) {
    std::vector<std::int64_t> values;
    if (options.random >= 0) {
        for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(options.random); ++i) values.push_back(random_number(options.seed, i));
    } else if (source != nullptr) {
        const mapped_text mapped(source->fd, source->size);
        parse_integers(mapped.text(), values, source->name);
    } else {
        values = parse_arguments(options.values);
    }
    return values;
}

int run_sort(const sort_options& options) {
    demo_runner runner(options);
    const auto start = clock_type::now();
    sorted_runs sorted;
    std::unique_ptr<text_source> source;
    try {
        if (options.random >= 0) {
            const auto count = static_cast<std::uint64_t>(options.random);
            sorted = sort_parts(runner, numbers(count), count, demo_sort_random_part, sort_random_part, options.seed);
        } else if (!options.values.empty()) {
            const auto given = parse_arguments(options.values);
            numbers array(given.size());
            std::copy(given.begin(), given.end(), array.begin());
            sorted = sort_parts(runner, array, given.size(), demo_sort_given_part, sort_given_part);
        } else {
            source = std::make_unique<text_source>(open_text(options.file));
            sorted = sort_text(runner, *source);
        }
    } catch (const input_error& e) {
        fmt::print(stderr, "strata demo sort: {}\n", e.what());
        return exit_usage;
    }
    const std::uint64_t count = sorted.runs.empty() ? 0 : std::accumulate(sorted.runs.begin(), sorted.runs.end(), std::uint64_t{0},
                                                                          [](std::uint64_t n, const run& r) { return n + r.size; });
    if (count == 0) {
        fmt::print(stderr, "strata demo sort: no numbers to sort (give them as arguments, with --input FILE, on standard "
                           "input, or use --random N)\n");
        return exit_usage;
    }
    // Printing merges the last two runs as it writes them out.
    const auto merge_start = clock_type::now();
    const int merge_rounds = merge_runs(runner, sorted, options.quiet ? 1 : 2);
    const double merge_seconds = seconds_since(merge_start);
    const auto print_start = clock_type::now();
    if (!options.quiet) print_numbers(runner, sorted);
    const double print_seconds = seconds_since(print_start);
    const double seconds = seconds_since(start);

    fmt::print(stderr, "sorted {} numbers in {} from input to answer ({})\n", count, format_seconds(seconds), runner.describe());
    const std::string read = source && source->read_seconds > 0 ? fmt::format("read {}, ", format_seconds(source->read_seconds)) : "";
    const char* load = options.random >= 0 ? "generate" : !options.values.empty() ? "" : "parse";
    const std::string steps = fmt::format("{}{}sort {}", read, *load != '\0' ? fmt::format("{} {}, ", load, format_seconds(sorted.load_seconds)) : "",
                                          format_seconds(sorted.sort_seconds));
    if (options.quiet) {
        fmt::print(stderr, "steps: {}, merge {}; the sort alone (sort and merge) {}\n", steps, format_seconds(merge_seconds),
                   format_seconds(sorted.sort_seconds + merge_seconds));
    } else {
        fmt::print(stderr, "steps: {}{}, merge and print {}\n", steps,
                   merge_rounds > 0 ? fmt::format(", merge {}", format_seconds(merge_seconds)) : "", format_seconds(print_seconds));
    }
    if (options.check) {
        auto expected = input_again(options, source.get());
        std::sort(expected.begin(), expected.end());
        // Printing leaves the last two runs unmerged in the array.
        merge_runs(runner, sorted, 1);
        const std::int64_t* first = sorted.array.data() + sorted.runs.front().first;
        const bool ok = std::equal(expected.begin(), expected.end(), first, first + count);
        fmt::print(stderr, "check: {}\n", ok ? "sorted, and a permutation of the input" : "FAILED");
        if (!ok) return exit_failure;
    }
    return exit_ok;
}

}  // namespace

runner setup_demo_sort(CLI::App& sub) {
    auto options = std::make_shared<sort_options>();
    auto* values = sub.add_option("numbers", options->values, "Numbers to sort (default: read from standard input)");
    auto* input = sub.add_option("-i,--input", options->file, "Read whitespace-separated integers from this file (- : stdin)")
                      ->excludes(values);
    auto* random = sub.add_option("--random", options->random, "Sort N random 64-bit integers instead")
                       ->check(whole_number(1, 2'000'000'000))
                       ->excludes(values)
                       ->excludes(input);
    sub.add_option("--seed", options->seed, "Seed for --random")->capture_default_str()->needs(random);
    sub.add_flag("--check", options->check, "Verify the output is sorted and a permutation of the input");
    sub.add_flag("-q,--quiet", options->quiet, "Do not print the sorted numbers");
    add_demo_options(sub, *options);
    sub.footer("Each worker parses (or generates) its own part of the numbers and sorts it; the parts are then merged,\n"
               "in the workers too. A file is mapped as it is; standard input is first copied into memory.");
    return [options] { return run_sort(*options); };
}

}  // namespace strata::cli
