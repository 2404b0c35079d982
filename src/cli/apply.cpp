// `strata apply INPUT OUTPUT -f CHAIN`: one image through a filter chain.
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>

#include "command.hpp"
#include "load_flags.hpp"
#include "strata/image.hpp"
#include "strata/pipeline.hpp"
#include "strata/pool.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

namespace fs = std::filesystem;

struct apply_options {
    std::string input;
    std::string output;
    std::string chain;
    std::string backend = "processes";
    unsigned workers = 0;
    unsigned strips = 0;
    write_flags writing;
    load_flags loading;
};

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

int run_apply(const apply_options& options) {
    filter_chain chain;
    try {
        chain = parse_chain(options.chain);
    } catch (const chain_error& e) {
        fmt::print(stderr, "strata apply: bad filter chain: {}\n", e.what());
        return exit_usage;
    }
    const fs::path input(options.input);
    const fs::path output(options.output);
    std::error_code ec;
    if (fs::exists(output, ec) && fs::equivalent(input, output, ec)) {
        fmt::print(stderr, "strata apply: {}: the output is the input; choose another output path\n", output.string());
        return exit_failure;
    }
    if (!can_write(output)) {
        fmt::print(stderr, "strata apply: {}: no image format for the extension '{}' (try .jpg, .png, .webp, .tif)\n",
                   output.string(), output.extension().string());
        return exit_failure;
    }

    const write_options writing = options.writing.options();
    try {
        check_write_options(output, writing);
    } catch (const usage_error& e) {
        fmt::print(stderr, "strata apply: {}: {}\n", output.string(), e.what());
        return exit_usage;
    }

    const backend where = backend_named(options.backend);
    const unsigned workers = options.workers != 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
    // Workers first, while this process has one thread: they can be forked.
    std::unique_ptr<pool> processes;
    if (where == backend::processes) processes = std::make_unique<pool>(pool_options{.processes = workers});

    // strata decides the parallelism (workers x strips); OpenCV's own
    // threads would only compete with it, and would make "serial" untrue.
    cv::setNumThreads(1);
    const auto start = std::chrono::steady_clock::now();
    image decoded = read_image(input, options.loading.options());
    const auto decoded_at = std::chrono::steady_clock::now();
    const image result = run_chain(chain, decoded,
                                   {.where = where, .workers = workers, .strips = options.strips, .reuse_input = true},
                                   processes.get());
    decoded = image();  // its pages go back before encoding (unless the result reuses them)
    const auto filtered_at = std::chrono::steady_clock::now();
    write_image(result, output, writing);
    const auto written_at = std::chrono::steady_clock::now();

    fmt::print("{}: {}x{}, {} band{} in {:.3f} s (decode {:.3f}, filter {:.3f} on {} x {}, encode {:.3f})\n",
               output.string(), result.width(), result.height(), result.bands(), result.bands() == 1 ? "" : "s",
               seconds_between(start, written_at), seconds_between(start, decoded_at),
               seconds_between(decoded_at, filtered_at), workers, options.backend, seconds_between(filtered_at, written_at));
    return exit_ok;
}

runner setup_apply(CLI::App& sub) {
    auto options = std::make_shared<apply_options>();
    sub.add_option("input", options->input, "Image to read")->required();
    sub.add_option("output", options->output, "Image to write; its extension picks the format")->required();
    sub.add_option("-f,--filter", options->chain, "Filter chain, e.g. 'gaussblur=sigma=3,sharpen=amount=1.5'")->required();
    add_backend_option(sub, options->backend);
    sub.add_option("-w,--workers", options->workers, "Worker processes or threads (default: one per core)")
        ->check(whole_number(1, 1024));
    sub.add_option("--strips", options->strips, "Strips per image (default: four per worker)")
        ->check(whole_number(1, 1'000'000));
    options->writing.add_to(sub);
    options->loading.add_to(sub, true);
    return [options] { return run_apply(*options); };
}

STRATA_COMMAND("apply", "Filter one image: decode, run a filter chain strip by strip, encode", setup_apply);

}  // namespace

}  // namespace strata::cli
