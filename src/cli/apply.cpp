// `strata apply INPUT OUTPUT -f CHAIN`: one image through a filter chain.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>

#include "command.hpp"
#include "load_flags.hpp"
#include "progress_line.hpp"
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
    bool quiet = false;
    write_flags writing;
    load_flags loading;
};

// How far a conversion has got, on one line of a terminal: drawn from a
// thread of its own once the conversion has taken a second, five times a
// second, and cleared when it ends.
class progress_display {
public:
    progress_display(const conversion_progress& progress, bool shown) {
        if (shown) thread_ = std::thread([this, &progress] { show(progress); });
    }
    ~progress_display() { stop(); }
    progress_display(const progress_display&) = delete;
    progress_display& operator=(const progress_display&) = delete;

    /// Clears the line; nothing is drawn after this returns.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    void show(const conversion_progress& progress) {
        using namespace std::chrono_literals;
        const auto start = std::chrono::steady_clock::now();
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, 1s, [&] { return stopped_; })) return;
        do {
            // A terminal that stalls holds up only this thread, not stop().
            lock.unlock();
            redraw_line(line(progress, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
            lock.lock();
        } while (!wake_.wait_for(lock, 200ms, [&] { return stopped_; }));
        clear_line();
    }

    // The parts by importance (percentage, ETA, speed; then rows; then the
    // bar and the time so far), as many as fit the terminal.
    static std::string line(const conversion_progress& progress, double elapsed) {
        const int rows_in = progress.rows_in.load(std::memory_order_relaxed);
        const int decoded = progress.rows_decoded.load(std::memory_order_relaxed);
        const int rows_out = progress.rows_out.load(std::memory_order_relaxed);
        const int written = progress.rows_written.load(std::memory_order_relaxed);
        if (rows_in == 0) return fmt::format("converting in a worker, {}", duration_text(elapsed));
        // Decoding and encoding count half each; they overlap where they can.
        // An encoder that has every row may still be compressing (WebP,
        // AVIF): 99% until the file is complete.
        double done = static_cast<double>(decoded) / rows_in / 2;
        if (rows_out > 0) done += static_cast<double>(written) / rows_out / 2;
        const bool finishing = rows_out > 0 && written >= rows_out;
        done = std::min(done, 0.99);
        // Of the input, as much as is done.
        const double megabytes = done * rows_in *
                                 static_cast<double>(progress.row_bytes_in.load(std::memory_order_relaxed)) / 1e6;
        const std::string essential = fmt::format(
            "{:3.0f}%  {}  {:.0f} MB/s", 100 * done,
            finishing     ? std::string("finishing the file")
            : done > 0.01 ? "ETA " + duration_text(elapsed * (1 - done) / done)
                          : std::string("ETA ?"),
            elapsed > 0 ? megabytes / elapsed : 0);
        const std::string rows = fmt::format("rows {}/{} decoded, {} encoded", decoded, rows_in,
                                             rows_out > 0 ? fmt::format("{}/{}", written, rows_out) : "0");
        constexpr int width = 20;
        const int filled = static_cast<int>(width * done);
        const std::string bar = fmt::format("[{:=<{}}{:<{}}]", "", filled, done < 1 ? ">" : "", width - filled);
        const std::string so_far = duration_text(elapsed) + " so far";
        const auto room = static_cast<std::size_t>(std::max(1, terminal_columns() - 1));
        // Too narrow even for that: the percentage alone, never a field cut short.
        if (essential.size() > room) return fmt::format("{:3.0f}%", 100 * done).substr(0, room);
        std::string text = essential;
        if (text.size() + 2 + rows.size() <= room) text += "  " + rows;
        if (bar.size() + 1 + text.size() <= room) text = bar + " " + text;
        if (text.size() + 2 + so_far.size() <= room) text += "  " + so_far;
        return text;
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopped_ = false;
    std::thread thread_;
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
    conversion_progress progress;
    progress_display display(progress, !options.quiet && ::isatty(STDERR_FILENO) == 1);
    std::exception_ptr failure;
    try {
        done = convert_file(input, output, chain, options.loading.options(), writing,
                            {.where = where, .workers = workers, .strips = options.strips, .progress = &progress},
                            processes.get());
    } catch (...) {
        failure = std::current_exception();
    }
    display.stop();  // before anything else is printed
    try {
        if (failure) std::rethrow_exception(failure);
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
    if (options.quiet) return exit_ok;
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
    sub.add_flag("--quiet", options->quiet,
                 "No progress line (shown on a terminal after a second), note or summary; failures are still printed");
    options->writing.add_to(sub);
    options->loading.add_to(sub, true);
    return [options] { return run_apply(*options); };
}

STRATA_COMMAND("apply", "Convert one image, through a filter chain if given: decode, filter strip by strip, encode",
               setup_apply);

}  // namespace

}  // namespace strata::cli
