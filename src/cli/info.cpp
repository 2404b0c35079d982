// `strata info`: decode image files fully and describe what they hold.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "load_flags.hpp"
#include "output_file.hpp"
#include "strata/error.hpp"
#include "strata/image_info.hpp"

namespace strata::cli {

namespace {

namespace fs = std::filesystem;

struct info_options {
    std::vector<std::string> inputs;
    bool recursive = false;
    std::string json_path;
    load_flags loading;
};

// Files named on the command line are taken as they are; folders give their
// regular files (not hidden ones), sorted, so the output order is stable.
std::vector<fs::path> expand_inputs(const info_options& options) {
    std::vector<fs::path> files;
    for (const auto& input : options.inputs) {
        const fs::path path(input);
        if (!fs::is_directory(path)) {
            files.push_back(path);
            continue;
        }
        std::vector<fs::path> found;
        auto take = [&](const fs::directory_entry& entry) {
            if (entry.is_regular_file() && !entry.path().filename().string().starts_with('.')) {
                found.push_back(entry.path());
            }
        };
        if (options.recursive) {
            for (const auto& entry : fs::recursive_directory_iterator(path)) take(entry);
        } else {
            for (const auto& entry : fs::directory_iterator(path)) take(entry);
        }
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

std::string describe_samples(const image_info& info) {
    return fmt::format("{}-bit{}", info.bits, info.is_float ? " float" : "");
}

int run_info(const info_options& options) {
    const auto files = expand_inputs(options);
    const load_options load = options.loading.options();

    nlohmann::json report = nlohmann::json::array();
    int failed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& file : files) {
        try {
            const image_info info = inspect(file, load);
            std::string extra;
            if (info.pages > 1) extra += fmt::format(", {} pages", info.pages);
            if (info.orientation > 1) extra += fmt::format(", orientation {}", info.orientation);
            if (info.palette) extra += ", palette";
            if (!info.icc_profile.empty()) extra += fmt::format(", profile '{}'", info.icc_profile);
            fmt::print("{}: {}x{}, {} band{}, {}, {}{}{}, {}{} ({} bytes), mean {:.2f}\n", file.string(), info.width,
                       info.height, info.bands, info.bands == 1 ? "" : "s", describe_samples(info),
                       info.interpretation, info.has_alpha ? " with alpha" : "", extra, info.loader,
                       info.name_matches_content ? "" : " (not what the file name says)", info.file_bytes, info.mean);
            report.push_back({{"path", file.string()},
                              {"status", "ok"},
                              {"width", info.width},
                              {"height", info.height},
                              {"bands", info.bands},
                              {"bits", info.bits},
                              {"float", info.is_float},
                              {"alpha", info.has_alpha},
                              {"interpretation", info.interpretation},
                              {"loader", info.loader},
                              {"name_matches_content", info.name_matches_content},
                              {"bytes", info.file_bytes},
                              {"mean", info.mean},
                              {"pages", info.pages},
                              {"orientation", info.orientation},
                              {"palette", info.palette},
                              {"icc_profile", info.icc_profile}});
        } catch (const image_error& e) {
            ++failed;
            fmt::print(stderr, "strata info: {}\n", e.what());
            report.push_back({{"path", file.string()}, {"status", "failed"}, {"error", e.reason()}});
        }
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    const auto decoded = files.size() - static_cast<std::size_t>(failed);
    fmt::print("{} image{} decoded, {} failed, in {:.3f} s\n", decoded, decoded == 1 ? "" : "s", failed,
               elapsed.count());

    if (!options.json_path.empty()) {
        write_file_atomically(options.json_path, report.dump(2) + "\n");
        fmt::print("report written to {}\n", options.json_path);
    }
    return failed == 0 ? exit_ok : exit_failure;
}

runner setup_info(CLI::App& sub) {
    auto options = std::make_shared<info_options>();
    sub.add_option("inputs", options->inputs, "Image files, or folders of them")->required();
    sub.add_flag("-r,--recursive", options->recursive, "Descend into sub-folders of folder inputs");
    sub.add_option("--json", options->json_path, "Also write the results as JSON to this file");
    options->loading.add_to(sub);
    return [options] { return run_info(*options); };
}

STRATA_COMMAND("info", "Decode image files and describe them (size, bands, depth, format)", setup_info);

}  // namespace

}  // namespace strata::cli
