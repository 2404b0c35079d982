// The image pipeline on a large photograph: each chain on each backend,
// median filter time over rounds, speed-up over serial, and peak memory.
//   build/release/bench/pipeline_bench [--image PATH] [--size 4096] [--workers 2] [--rounds 3] [--json FILE]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"  // as_mat
#include "strata/strata.hpp"

namespace {

double median_of(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

// The photograph enlarged to size x size (area interpolation when shrinking, cubic when growing).
strata::image enlarged(const strata::image& photo, int size) {
    const cv::Mat source = strata::as_mat(photo);
    strata::image big({size, size, photo.bands(), photo.type()});
    cv::Mat target = strata::as_mat(big);
    cv::resize(source, target, {size, size}, 0, 0, size < photo.width() ? cv::INTER_AREA : cv::INTER_CUBIC);
    return big;
}

}  // namespace

int main(int argc, char** argv) {
    strata::serve_if_worker();
    CLI::App app{"Times filter chains on a large image with each backend."};
    std::string image_path = STRATA_SOURCE_DIR "/testdata/photos/astronaut.jpg";
    int size = 4096;
    unsigned workers = 2;
    unsigned strips = 0;
    int rounds = 3;
    std::vector<std::string> chains{"gaussblur=sigma=3", "median=size=9", "bilateral=diameter=9"};
    std::string json_path;
    app.add_option("--image", image_path, "Photograph to enlarge")->check(CLI::ExistingFile);
    app.add_option("--size", size, "Side of the square test image")->check(CLI::Range(16, 32768))->capture_default_str();
    app.add_option("--workers", workers, "Workers (processes, threads)")->check(CLI::Range(1, 256))->capture_default_str();
    app.add_option("--strips", strips, "Strips (0: four per worker)")->capture_default_str();
    app.add_option("--rounds", rounds, "Timed runs per point (after one warm-up)")->check(CLI::Range(1, 100))->capture_default_str();
    app.add_option("--chain", chains, "Chains to time (repeatable)")->capture_default_str();
    app.add_option("--json", json_path, "Also write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    // First, while this process has one thread.
    auto processes = std::make_unique<strata::pool>(strata::pool_options{.processes = workers});
    cv::setNumThreads(1);                            // strata decides the parallelism
    const strata::image photo = enlarged(strata::read_image(image_path), size);
    const double image_mb = static_cast<double>(photo.layout().bytes()) / 1e6;
    fmt::print("image: {}x{}, {} bands, {:.1f} MB decoded; {} workers\n", size, size, photo.bands(), image_mb, workers);
    fmt::print("{:<24} {:>10} {:>12} {:>12} {:>12} {:>14}\n", "chain", "backend", "median s", "min s", "vs serial", "vs threads");

    nlohmann::json results = nlohmann::json::array();
    const std::pair<const char*, strata::backend> backends[] = {
        {"serial", strata::backend::serial}, {"threads", strata::backend::threads}, {"processes", strata::backend::processes}};
    for (const auto& text : chains) {
        const auto chain = strata::parse_chain(text);
        // Rounds alternate the backends, so that a slow spell of the machine
        // falls on all of them alike; round 0 is a warm-up.
        std::map<std::string, std::vector<double>> seconds;
        for (int round = 0; round <= rounds; ++round) {
            for (const auto& [name, where] : backends) {
                const auto start = std::chrono::steady_clock::now();
                const auto result =
                    strata::run_chain(chain, photo, {.where = where, .workers = workers, .strips = strips}, processes.get());
                const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                if (round > 0) seconds[name].push_back(elapsed);
            }
        }
        const double serial = median_of(seconds["serial"]);
        const double threads = median_of(seconds["threads"]);
        for (const auto& [name, where] : backends) {
            const auto& times = seconds[name];
            const double median = median_of(times);
            fmt::print("{:<24} {:>10} {:>12.3f} {:>12.3f} {:>11.2f}x {:>13.2f}x\n", text, name, median,
                       *std::min_element(times.begin(), times.end()), serial / median, median / threads);
            results.push_back({{"chain", text}, {"backend", name}, {"median_s", median}, {"seconds", times},
                               {"speedup_vs_serial", serial / median}, {"ratio_vs_threads", median / threads}});
        }
    }
    // The workers' peak shows once they have been reaped.
    processes.reset();
    rusage children{};
    ::getrusage(RUSAGE_CHILDREN, &children);
    const double worker_mb = static_cast<double>(children.ru_maxrss) / 1e3;
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    const double parent_mb = static_cast<double>(self.ru_maxrss) / 1e3;
    fmt::print("peak resident size: largest worker {:.1f} MB ({:.2f}x the decoded image); this benchmark process {:.1f} MB "
               "({:.2f}x: it keeps the test image and a result of every backend's run)\n",
               worker_mb, worker_mb / image_mb, parent_mb, parent_mb / image_mb);
    if (!json_path.empty()) {
        std::ofstream(json_path) << nlohmann::json{{"size", size}, {"workers", workers}, {"image_mb", image_mb},
                                                   {"peak_parent_mb", parent_mb}, {"peak_worker_mb", worker_mb}, {"results", results}}.dump(2)
                                 << "\n";
    }
    return 0;
}
