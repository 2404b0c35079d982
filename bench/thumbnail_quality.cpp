// How close thumbnails are to an exact area average of the full image: for
// each input, OpenCV's INTER_AREA on a full-size decode, to each thumbnail's
// size, against the thumbnails in two folders (same stem, any extension).
//   build/release/bench/thumbnail_quality INPUT... --a strata-out --b vips-out --json quality.json
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"
#include "strata/strata.hpp"

namespace fs = std::filesystem;

namespace {

// The file in `folder` whose stem is `stem`.
fs::path with_stem(const fs::path& folder, const std::string& stem) {
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().stem() == stem) return entry.path();
    }
    throw strata::error(fmt::format("{}: no thumbnail of {}", folder.string(), stem));
}

// PSNR of `thumbnail` against the area average of `full` at its size.
double closeness(const strata::image& full, const fs::path& thumbnail) {
    const strata::image small = strata::read_image(thumbnail);
    cv::Mat exact;
    cv::resize(strata::as_mat(full), exact, cv::Size(small.width(), small.height()), 0, 0, cv::INTER_AREA);
    return cv::PSNR(exact, strata::as_mat(small));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"PSNR of two sets of thumbnails against OpenCV's INTER_AREA on the full-size decode."};
    std::vector<std::string> inputs;
    std::string a, b, json_path;
    app.add_option("inputs", inputs, "Full-size images")->required()->check(CLI::ExistingFile);
    app.add_option("--a", a, "Folder of the first tool's thumbnails")->required();
    app.add_option("--b", b, "Folder of the second tool's thumbnails")->required();
    app.add_option("--json", json_path, "Also write the results as JSON");
    CLI11_PARSE(app, argc, argv);

    nlohmann::json results = nlohmann::json::array();
    double worst = 1e9;
    fmt::print("{:<28} {:>10} {:>10} {:>8}\n", "image", "a dB", "b dB", "a - b");
    for (const auto& input : inputs) {
        const std::string stem = fs::path(input).stem().string();
        const strata::image full = strata::read_image(input, {.max_pixels = 4'000'000'000});
        const double first = closeness(full, with_stem(a, stem));
        const double second = closeness(full, with_stem(b, stem));
        worst = std::min(worst, first - second);
        fmt::print("{:<28} {:>10.2f} {:>10.2f} {:>+8.2f}\n", stem, first, second, first - second);
        results.push_back({{"image", stem}, {"a_psnr_db", first}, {"b_psnr_db", second}});
    }
    fmt::print("worst a - b: {:+.2f} dB\n", worst);
    if (!json_path.empty()) std::ofstream(json_path) << nlohmann::json{{"files", results}, {"worst_difference_db", worst}}.dump(2);
    return 0;
}
