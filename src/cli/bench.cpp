// `strata bench`: sweeps backends x workers x strips x filter chains over one
// image, and reports time, speed-up over serial, parallel efficiency and the
// pool's own overhead.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "command.hpp"
#include "load_flags.hpp"
#include "output_file.hpp"
#include "strata/filter.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

using clock_type = std::chrono::steady_clock;

STRATA_TASK(bench_nothing, [](std::int32_t x) { return x; });

struct bench_flags {
    std::string image_path;
    int size = 2048;
    std::vector<std::string> chains{"gaussblur=sigma=3", "median=size=5"};
    std::vector<std::string> backends{"serial", "threads", "processes"};
    std::vector<unsigned> workers;
    std::vector<unsigned> strips{0};
    int rounds = 5;
    int warmup = 1;
    std::string json_path;
    std::string csv_path;
    bool quiet = false;
};

// One point of the sweep and its timings.
struct point {
    std::string chain;
    std::size_t chain_index = 0;
    std::string backend;
    unsigned workers = 1;
    unsigned strips_asked = 0;  // 0: automatic
    int strips = 1;             // as run
    std::vector<double> seconds;
    double median = 0;
    double min = 0;
    double max = 0;
    double speedup = 0;
    double efficiency = 0;
    double overhead = 0;  // estimated: strips x the measured cost of dispatching one strip
    double extra_rows = 0;  // rows filtered beyond the image's, as a fraction of its height (halos)
    bool baseline = false;
};

// How the pool's own costs were measured for one worker count.
struct pool_overhead {
    double round_trip_us = 0;      // submit + get of a task that does nothing, one at a time
    double strip_dispatch_us = 0;  // wall time per strip of a chain that does (almost) nothing
};

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// A photograph-like test image: smooth colour fields, edges, and grain, the
// same for a given size on every machine.
image generated_image(int size) {
    cv::RNG random(20261123);
    cv::Mat field(8, 8, CV_8UC3);
    random.fill(field, cv::RNG::UNIFORM, 30, 225);
    image picture({size, size, 3, sample_type::u8});
    cv::Mat pixels = as_mat(picture);
    cv::resize(field, pixels, pixels.size(), 0, 0, cv::INTER_CUBIC);
    for (int i = 0; i < 24; ++i) {  // shapes with hard edges
        const cv::Point centre(random.uniform(0, size), random.uniform(0, size));
        cv::circle(pixels, centre, random.uniform(size / 40 + 1, size / 6 + 2),
                   cv::Scalar(random.uniform(0, 256), random.uniform(0, 256), random.uniform(0, 256)),
                   random.uniform(1, 4) * std::max(1, size / 500), cv::LINE_AA);
    }
    cv::Mat grain(pixels.size(), CV_16SC3);
    random.fill(grain, cv::RNG::NORMAL, 0, 6);
    cv::Mat wide;
    pixels.convertTo(wide, CV_16SC3);
    wide += grain;
    wide.convertTo(pixels, CV_8UC3);  // saturates back into 0..255
    return picture;
}

int strips_run(unsigned asked, unsigned workers, int height) {
    const unsigned wanted = asked != 0 ? asked : 4 * workers;
    return static_cast<int>(std::min<unsigned>(wanted, static_cast<unsigned>(std::max(1, height))));
}

pool_overhead measure_overhead(pool& workers, int rounds) {
    pool_overhead result;
    constexpr int calls = 2000;
    std::vector<double> trips;
    for (int round = 0; round <= rounds; ++round) {
        const auto start = clock_type::now();
        for (int i = 0; i < calls; ++i) workers.submit(bench_nothing, std::int32_t{i}).get();
        if (round > 0) trips.push_back(seconds_since(start) / calls * 1e6);
    }
    result.round_trip_us = median_of(trips);
    // One row per strip of a thin image, through a point filter: the cost of
    // a strip is then all dispatch (messages, descriptors, mapping).
    const image thin({16, 2048, 1, sample_type::u8});
    const auto chain = parse_chain("invert");
    std::vector<double> per_strip;
    for (int round = 0; round <= rounds; ++round) {
        const auto start = clock_type::now();
        run_chain(chain, thin, {.where = backend::processes, .workers = workers.size(), .strips = 2048}, &workers);
        if (round > 0) per_strip.push_back(seconds_since(start) / 2048 * 1e6);
    }
    result.strip_dispatch_us = median_of(per_strip);
    return result;
}

// Progress on stderr, redrawn in place, when it is a terminal.
void show_progress(bool shown, std::size_t done, std::size_t total, const point& p) {
    if (!shown) return;
    fmt::print(stderr, "\r[{}/{}] {} on {} x {}, {} strips\x1b[K", done, total, p.chain, p.workers, p.backend, p.strips);
    if (done == total) fmt::print(stderr, "\r\x1b[K");
}

nlohmann::json json_of(const point& p) {
    return {{"chain", p.chain},           {"backend", p.backend},   {"workers", p.workers},
            {"strips", p.strips},         {"strips_asked", p.strips_asked}, {"seconds", p.seconds},
            {"median_s", p.median},       {"min_s", p.min},         {"max_s", p.max},
            {"speedup", p.speedup},       {"efficiency", p.efficiency},
            {"estimated_overhead_s", p.overhead}, {"extra_rows_pct", 100 * p.extra_rows}, {"baseline", p.baseline}};
}

int run_bench(const bench_flags& flags) {
    std::vector<unsigned> worker_counts = flags.workers;
    if (worker_counts.empty()) {
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        for (unsigned w = 1; w < cores; w *= 2) worker_counts.push_back(w);
        worker_counts.push_back(cores);
    }
    std::sort(worker_counts.begin(), worker_counts.end());
    worker_counts.erase(std::unique(worker_counts.begin(), worker_counts.end()), worker_counts.end());
    const bool with_processes = std::find(flags.backends.begin(), flags.backends.end(), "processes") != flags.backends.end();

    // Pools first, while this process has one thread: they can be forked.
    std::map<unsigned, std::unique_ptr<pool>> pools;
    if (with_processes) {
        for (const unsigned w : worker_counts) pools[w] = std::make_unique<pool>(pool_options{.processes = w});
    }
    cv::setNumThreads(1);  // strata decides the parallelism

    std::vector<filter_chain> chains;
    for (const auto& text : flags.chains) {
        try {
            chains.push_back(parse_chain(text));
        } catch (const chain_error& e) {
            fmt::print(stderr, "strata bench: bad filter chain: {}\n", e.what());
            return exit_usage;
        }
    }
    image picture;
    std::string source = "generated";
    if (!flags.image_path.empty()) {
        try {
            picture = read_image(flags.image_path);
        } catch (const image_error& e) {
            fmt::print(stderr, "strata bench: {}\n", e.what());
            return exit_failure;
        }
        source = flags.image_path;
    } else {
        picture = generated_image(flags.size);
    }
    const double megapixels = static_cast<double>(picture.width()) * picture.height() / 1e6;

    // The sweep; the first point of each chain is the baseline: serial, the
    // whole image as one strip.
    std::vector<point> points;
    for (std::size_t c = 0; c < flags.chains.size(); ++c) {
        const std::string& text = flags.chains[c];
        points.push_back({.chain = text, .chain_index = c, .backend = "serial", .workers = 1, .strips_asked = 1, .strips = 1, .baseline = true});
        for (const auto& backend_name : flags.backends) {
            for (const unsigned w : worker_counts) {
                if (backend_name == "serial" && w != 1) continue;
                for (const unsigned s : flags.strips) {
                    const int strips = strips_run(s, w, picture.height());
                    if (backend_name == "serial" && strips == 1) continue;  // that is the baseline
                    const bool repeated = std::any_of(points.begin(), points.end(), [&](const point& p) {
                        return p.chain_index == c && p.backend == backend_name && p.workers == w && p.strips == strips;
                    });
                    if (repeated) continue;  // "0" (automatic) may ask for a count also given outright
                    points.push_back({.chain = text, .chain_index = c, .backend = backend_name, .workers = w, .strips_asked = s, .strips = strips});
                }
            }
        }
    }

    std::map<unsigned, pool_overhead> overheads;
    for (const auto& [w, workers] : pools) overheads[w] = measure_overhead(*workers, std::max(1, flags.rounds / 2));

    // Rounds are the outer loop, so that a slow spell of the machine falls on
    // every point alike; the first `warmup` rounds are not counted.
    const bool progress = !flags.quiet && ::isatty(STDERR_FILENO) == 1;
    const std::size_t total = points.size() * static_cast<std::size_t>(flags.warmup + flags.rounds);
    std::size_t done = 0;
    for (int round = 0; round < flags.warmup + flags.rounds; ++round) {
        for (auto& p : points) {
            const auto& run = chains[p.chain_index];
            const backend where = backend_named(p.backend);
            pool* workers = where == backend::processes ? pools.at(p.workers).get() : nullptr;
            const auto start = clock_type::now();
            const image result = run_chain(run, picture, {.where = where, .workers = p.workers,
                                                          .strips = static_cast<unsigned>(p.strips)}, workers);
            const double elapsed = seconds_since(start);
            if (round >= flags.warmup) p.seconds.push_back(elapsed);
            show_progress(progress, ++done, total, p);
        }
    }

    double baseline = 0;
    for (auto& p : points) {
        p.median = median_of(p.seconds);
        p.min = *std::min_element(p.seconds.begin(), p.seconds.end());
        p.max = *std::max_element(p.seconds.begin(), p.seconds.end());
        if (p.baseline) baseline = p.median;
        p.speedup = baseline / p.median;
        p.efficiency = p.speedup / p.workers;
        // Step k filters 2 x (its halo + the halos of the steps after it)
        // rows more per strip boundary; averaged over the steps.
        const auto& steps = chains[p.chain_index].steps;
        double extra = 0;
        int halo_from_here = 0;
        for (auto step = steps.rbegin(); step != steps.rend(); ++step) {
            halo_from_here += step->filter->halo(step->args);
            extra += 2.0 * std::min(halo_from_here, picture.height()) * (p.strips - 1);
        }
        p.extra_rows = steps.empty() ? 0 : extra / static_cast<double>(steps.size()) / picture.height();
        if (p.backend == "processes") p.overhead = p.strips * overheads.at(p.workers).strip_dispatch_us / 1e6;
    }

    if (!flags.quiet) {
        fmt::print("image: {}x{}, {} band{}, {:.1f} MB ({}); {} rounds after {} warm-up\n", picture.width(),
                   picture.height(), picture.bands(), picture.bands() == 1 ? "" : "s", static_cast<double>(picture.layout().bytes()) / 1e6, source,
                   flags.rounds, flags.warmup);
        for (const auto& [w, o] : overheads) {
            fmt::print("pool overhead, {} worker{}: task round trip {:.1f} us, strip dispatch {:.1f} us per strip\n", w,
                       w == 1 ? "" : "s", o.round_trip_us, o.strip_dispatch_us);
        }
        fmt::print("{:<24} {:>10} {:>7} {:>6} {:>9} {:>8} {:>8} {:>10} {:>7} {:>6} {:>11}\n", "chain", "backend",
                   "workers", "strips", "median s", "spread", "speedup", "efficiency", "MP/s", "halo", "overhead s");
        for (const auto& p : points) {
            fmt::print("{:<24} {:>10} {:>7} {:>6} {:>9.4f} {:>7.1f}% {:>7.2f}x {:>9.0f}% {:>7.1f} {:>5.0f}% {:>11}\n",
                       p.chain, p.baseline ? "serial*" : p.backend, p.workers, p.strips, p.median,
                       100 * (p.max - p.min) / p.median, p.speedup, 100 * p.efficiency, megapixels / p.median,
                       100 * p.extra_rows, p.backend == "processes" ? fmt::format("{:.4f}", p.overhead) : "-");
        }
        fmt::print("serial*: the whole image in one piece, the baseline of speedup; spread: (max - min) / median; "
                   "halo: rows filtered beyond the image's own (each strip's neighbours' rows); overhead: strips x "
                   "strip dispatch, an estimate of the time not spent filtering\n");
    }

    if (!flags.json_path.empty()) {
        nlohmann::json document{
            {"image", {{"source", source}, {"width", picture.width()}, {"height", picture.height()},
                       {"bands", picture.bands()}, {"bytes", picture.layout().bytes()}}},
            {"rounds", flags.rounds},
            {"warmup", flags.warmup},
            {"hardware_threads", std::thread::hardware_concurrency()},
            {"points", nlohmann::json::array()},
            {"pool_overhead", nlohmann::json::array()}};
        for (const auto& p : points) document["points"].push_back(json_of(p));
        for (const auto& [w, o] : overheads) {
            document["pool_overhead"].push_back(
                {{"workers", w}, {"round_trip_us", o.round_trip_us}, {"strip_dispatch_us", o.strip_dispatch_us}});
        }
        write_file_atomically(flags.json_path, document.dump(2) + "\n");
    }
    if (!flags.csv_path.empty()) {
        std::string csv = "chain,backend,workers,strips,median_s,min_s,max_s,speedup,efficiency,megapixels_per_s,"
                          "extra_rows_pct,estimated_overhead_s,baseline\n";
        for (const auto& p : points) {
            csv += fmt::format("\"{}\",{},{},{},{:.6f},{:.6f},{:.6f},{:.4f},{:.4f},{:.3f},{:.2f},{:.6f},{}\n", p.chain,
                               p.backend, p.workers, p.strips, p.median, p.min, p.max, p.speedup, p.efficiency,
                               megapixels / p.median, 100 * p.extra_rows, p.overhead, p.baseline ? "true" : "false");
        }
        write_file_atomically(flags.csv_path, csv);
    }
    return exit_ok;
}

runner setup_bench(CLI::App& sub) {
    auto flags = std::make_shared<bench_flags>();
    sub.add_option("image", flags->image_path, "Image to run on (default: a generated photograph-like image)")
        ->check(CLI::ExistingFile);
    sub.add_option("--size", flags->size, "Side of the generated square image")
        ->check(whole_number(16, 32768))
        ->capture_default_str();
    sub.add_option("-f,--filter", flags->chains, "Filter chain to time (repeatable)")->capture_default_str();
    sub.add_option("-b,--backends", flags->backends, "Backends, comma-separated")
        ->delimiter(',')
        ->check(one_of({"processes", "threads", "serial"}))
        ->capture_default_str();
    sub.add_option("-w,--workers", flags->workers, "Worker counts, comma-separated (default: 1, 2, 4 ... cores)")
        ->delimiter(',')
        ->check(whole_number(1, 1024));
    sub.add_option("--strips", flags->strips, "Strip counts, comma-separated; 0: four per worker")
        ->delimiter(',')
        ->check(whole_number(0, 1'000'000))
        ->capture_default_str();
    sub.add_option("--rounds", flags->rounds, "Timed rounds per point")->check(whole_number(1, 1000))->capture_default_str();
    sub.add_option("--warmup", flags->warmup, "Untimed rounds first")->check(whole_number(0, 100))->capture_default_str();
    sub.add_option("--json", flags->json_path, "Write every measurement as JSON");
    sub.add_option("--csv", flags->csv_path, "Write the points as CSV");
    sub.add_flag("-q,--quiet", flags->quiet, "Print nothing (with --json or --csv)");
    return [flags] { return run_bench(*flags); };
}

STRATA_COMMAND("bench", "Time filter chains over backends, workers and strips; speed-up, efficiency, pool overhead",
               setup_bench);

}  // namespace

}  // namespace strata::cli
