// Decode throughput: how fast strata's loader (libvips) decodes whole files.
//   build/release/bench/decode_bench testdata/photos/*.jpg --rounds 20 --json decode.json
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Decode each image --rounds times (after one warm-up) and print the median time."};
    std::vector<std::string> images;
    int rounds = 10;
    std::string json_path;
    app.add_option("images", images, "Image files")->required()->check(CLI::ExistingFile);
    app.add_option("--rounds", rounds, "Timed decodes per image")->check(CLI::Range(1, 100000))->capture_default_str();
    app.add_option("--json", json_path, "Also write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    nlohmann::json results = nlohmann::json::array();
    fmt::print("{:<40} {:>10} {:>12} {:>12} {:>10}\n", "image", "megapixels", "median ms", "spread ms", "MP/s");
    for (const auto& image : images) {
        const auto info = strata::inspect(image);  // warm-up: file cache, libvips start-up
        std::vector<double> ms;
        for (int round = 0; round < rounds; ++round) {
            const auto start = std::chrono::steady_clock::now();
            strata::inspect(image);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        std::sort(ms.begin(), ms.end());
        const double median = ms[ms.size() / 2];
        const double megapixels = static_cast<double>(info.width) * info.height / 1e6;
        fmt::print("{:<40} {:>10.3f} {:>12.2f} {:>12.2f} {:>10.1f}\n", std::filesystem::path(image).filename().string(),
                   megapixels, median, ms.back() - ms.front(), megapixels / (median / 1000));
        results.push_back({{"image", image},
                           {"megapixels", megapixels},
                           {"rounds", rounds},
                           {"median_ms", median},
                           {"min_ms", ms.front()},
                           {"max_ms", ms.back()}});
    }
    if (!json_path.empty()) std::ofstream(json_path) << results.dump(2) << "\n";
    return 0;
}
