// `strata apply INPUT OUTPUT -f CHAIN`: one image through a filter chain.
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
    double timeout_seconds = 600;
    write_flags writing;
    load_flags loading;
};

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
    if (where == backend::processes) {
        processes = std::make_unique<pool>(pool_options{.processes = workers, .timeout = timeout_of(options.timeout_seconds)});
    }

    // strata decides the parallelism (workers x strips); OpenCV's own
    // threads would only compete with it, and would make "serial" untrue.
    cv::setNumThreads(1);
    conversion done;
    try {
        done = convert_file(input, output, chain, options.loading.options(), writing,
                            {.where = where, .workers = workers, .strips = options.strips}, processes.get());
    } catch (const over_limit& e) {
        // The chain asks more of this image than the limits allow: the
        // command line is to change (the chain or the limit).
        fmt::print(stderr, "strata apply: {}\n", e.what());
        return exit_usage;
    } catch (const task_timeout& e) {
        fmt::print(stderr, "strata apply: {}: timed out after {} s; its worker was killed (--timeout)\n",
                   input.string(), static_cast<double>(e.limit().count()) / 1000);
        return exit_failure;
    } catch (const worker_lost& e) {
        fmt::print(stderr, "strata apply: {}: the worker converting it {}\n", input.string(), e.how());
        return exit_failure;
    } catch (const remote_error& e) {
        // What failed in the worker, without the pool's own words; over the
        // limits there (a file read in a worker of its own) is still the
        // command line's to change.
        fmt::print(stderr, "strata apply: {}\n", e.message());
        return e.type_name() == "strata::over_limit" ? exit_usage : exit_failure;
    }
    if (!done.content_note.empty()) fmt::print(stderr, "strata apply: {}: {}\n", input.string(), done.content_note);
    const auto& layout = done.layout;
    fmt::print("{}: {}x{}, {} band{}{} in {:.3f} s on {} x {}{} (decoded at {:.3f} s, filtered at {:.3f} s)\n",
               output.string(), layout.width, layout.height, layout.bands, layout.bands == 1 ? "" : "s",
               done.pages > 1 ? fmt::format(", {} pages", done.pages) : "", done.written, workers, options.backend,
               done.streamed ? ", streamed" : "", done.decoded, done.filtered);
    return exit_ok;
}

runner setup_apply(CLI::App& sub) {
    auto options = std::make_shared<apply_options>();
    sub.add_option("input", options->input, "Image to read")->required();
    sub.add_option("output", options->output, "Image to write; its extension picks the format")->required();
    sub.add_option("-f,--filter", options->chain,
                   "Filter chain, e.g. 'thumbnail=256' or 'gaussblur=sigma=3,sharpen=amount=1.5' (none: convert only)");
    add_backend_option(sub, options->backend);
    sub.add_option("-w,--workers", options->workers, "Worker processes or threads (default: one per core)")
        ->check(whole_number(1, 1024));
    sub.add_option("--strips", options->strips, "Strips per image (default: four per worker)")
        ->check(whole_number(1, 1'000'000));
    add_timeout_option(sub, options->timeout_seconds);
    options->writing.add_to(sub);
    options->loading.add_to(sub, true);
    return [options] { return run_apply(*options); };
}

STRATA_COMMAND("apply", "Convert one image, through a filter chain if given: decode, filter strip by strip, encode",
               setup_apply);

}  // namespace

}  // namespace strata::cli
