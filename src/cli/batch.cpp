// `strata batch INPUT... OUTPUT_DIR -f CHAIN`: folders of images through a
// filter chain, with progress, a summary, a JSON report, and a clean stop on
// Ctrl-C or SIGTERM.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "load_flags.hpp"
#include "output_file.hpp"
#include "progress_line.hpp"
#include "strata/batch.hpp"
#include "strata/detail/output_tree.hpp"
#include "strata/detail/temporary_files.hpp"
#include "strata/pool.hpp"
#include "validators.hpp"

namespace strata::cli {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct batch_flags {
    std::vector<std::string> paths;  // inputs, then the output folder
    batch_options options;           // the fields given as they are; the rest below
    std::string backend = "processes";
    std::string schedule = "auto";
    bool overwrite = false;
    bool fail_if_exists = false;
    bool dry_run = false;
    bool quiet = false;
    std::string json_path;
    double timeout_seconds = 600;
    write_flags writing;
    load_flags loading;
};

// Set by SIGINT / SIGTERM: the signal number. A second signal ends the
// process at once (outputs are still never partial: see write_image).
std::atomic<int> stop_signal{0};
std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int signal) {
    if (stop_requested.exchange(true)) {
        detail::remove_temporary_files();
        std::signal(signal, SIG_DFL);
        std::raise(signal);
        return;
    }
    stop_signal.store(signal);
}

// Catches SIGINT and SIGTERM for the life of the run.
class stop_signals {
public:
    stop_signals() {
        struct sigaction action {};
        action.sa_handler = on_stop_signal;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &old_int_);
        ::sigaction(SIGTERM, &action, &old_term_);
    }
    ~stop_signals() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    stop_signals(const stop_signals&) = delete;
    stop_signals& operator=(const stop_signals&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

// Progress on stderr: a bar redrawn in place on a terminal, a plain line
// every few seconds otherwise.
class progress {
public:
    progress(std::size_t total, bool quiet) : total_(total), quiet_(quiet), terminal_(::isatty(STDERR_FILENO) == 1) {}

    void update(std::size_t done, bool final = false) {
        if (quiet_ || total_ == 0) return;
        const auto now = clock_type::now();
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
        const std::string eta = rate > 0 ? duration_text(static_cast<double>(total_ - done) / rate) : "?";
        if (terminal_) {
            if (!final && now - shown_ < std::chrono::milliseconds(100)) return;
            constexpr int width = 30;
            const int filled = static_cast<int>(width * done / total_);
            redraw_line(fmt::format("[{:=<{}}{:<{}}] {}/{} files  {:.1f} images/s  ETA {}", "", filled,
                                    done < total_ ? ">" : "", width - filled, done, total_, rate, eta));
            if (final) fmt::print(stderr, "\n");
        } else {
            if (!final && now - shown_ < std::chrono::seconds(5)) return;
            if (final && !any_shown_) return;  // a short run needs no progress lines
            fmt::print(stderr, "strata batch: {}/{} files, {:.1f} images/s, ETA {}\n", done, total_, rate, eta);
        }
        shown_ = now;
        any_shown_ = true;
    }

    /// Clears the bar before another line is printed.
    void interject() const {
        if (!quiet_ && terminal_ && total_ > 0) clear_line();
    }

private:
    std::size_t total_;
    bool quiet_;
    bool terminal_;
    clock_type::time_point start_ = clock_type::now();
    clock_type::time_point shown_ = start_;
    bool any_shown_ = false;
};

// How many items of the plan are in each status.
std::map<item_status, std::size_t> tally(const batch_plan& plan) {
    std::map<item_status, std::size_t> counts;
    for (const auto& item : plan.items) ++counts[item.status];
    return counts;
}

nlohmann::json report_of(const batch_plan& plan, const batch_flags& flags, double seconds, bool interrupted) {
    nlohmann::json files = nlohmann::json::array();
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    for (const auto& item : plan.items) {
        const std::string status = flags.dry_run && item.status == item_status::pending ? "planned" : to_string(item.status);
        nlohmann::json entry{{"input", item.input.string()},
                             {"output", item.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(item.output.string())},
                             {"status", status},
                             {"bytes_in", item.bytes_in}};
        if (item.status == item_status::failed) entry["error"] = item.note;
        if (item.status != item_status::failed && !item.note.empty()) entry["note"] = item.note;
        if (item.status == item_status::converted) {
            entry["bytes_out"] = item.bytes_out;
            entry["width"] = item.width;
            entry["height"] = item.height;
            entry["seconds"] = item.seconds;
            entry["loader"] = item.loader;
            entry["pages_in"] = item.pages_in;
            entry["pages_out"] = item.pages_out;
            entry["load_shrink"] = item.load_shrink;
            entry["path"] = item.streamed ? "streamed" : "whole";
            bytes_in += item.bytes_in;
            bytes_out += item.bytes_out;
        }
        files.push_back(std::move(entry));
    }
    auto counts = tally(plan);
    const std::size_t converted = counts[item_status::converted];
    return {{"chain", plan.chain.text},
            {"output_dir", plan.output_dir.string()},
            {"backend", flags.backend},
            {"dry_run", flags.dry_run},
            {"interrupted", interrupted},
            {"files", files},
            {"totals",
             {{"files", plan.items.size()},
              {"converted", converted},
              {"skipped", counts[item_status::skipped]},
              {"failed", counts[item_status::failed]},
              {"interrupted", counts[item_status::interrupted]},
              {"planned", flags.dry_run ? counts[item_status::pending] : 0},
              {"bytes_in", bytes_in},
              {"bytes_out", bytes_out},
              {"seconds", seconds},
              {"images_per_second", seconds > 0 ? static_cast<double>(converted) / seconds : 0.0}}}};
}

// Creates the output folder and checks that files can be made in it.
std::string prepare_output_dir(const fs::path& folder) {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) return fmt::format("cannot create the output folder {}: {}", folder.string(), ec.message());
    const int probe = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (probe >= 0) {
        ::close(probe);
        return {};
    }
    if (errno == EROFS || errno == EACCES || errno == EPERM) {
        return fmt::format("cannot write into the output folder {}: {}", folder.string(), std::strerror(errno));
    }
    return {};  // no O_TMPFILE here: each file will say what went wrong, if anything
}

// Where the report goes: a report inside the output folder is placed
// beneath it as the images are (no symbolic link below it followed);
// elsewhere, at the path given.
detail::output_place report_place(const fs::path& report, const fs::path& output_dir) {
    const fs::path relative = fs::absolute(report).lexically_normal().lexically_relative(fs::absolute(output_dir).lexically_normal());
    if (relative.empty() || *relative.begin() == ".." || relative == ".") return detail::place_of(report);
    std::error_code ec;
    fs::create_directories(output_dir, ec);  // a run with nothing to convert has not made it
    detail::output_tree tree(output_dir);
    return {tree.folder(relative.parent_path(), true, report), relative.filename().string(), report};
}

int run_batch_command(const batch_flags& flags) {
    const auto start = clock_type::now();
    std::vector<fs::path> inputs(flags.paths.begin(), flags.paths.end() - 1);
    const fs::path output_dir = flags.paths.back();

    batch_options options = flags.options;
    options.existing = flags.overwrite        ? existing_outputs::overwrite
                       : flags.fail_if_exists ? existing_outputs::fail
                                              : existing_outputs::skip;
    options.writing = flags.writing.options();
    options.loading = flags.loading.options();
    if (const auto budget = flags.loading.memory_budget()) {
        // Shared by the files held at once, which run_batch knows.
        options.memory_budget = *budget;
        options.loading.max_memory = 0;
        options.loading.max_memory_origin = flags.loading.auto_origin();
    }
    options.where = backend_named(flags.backend);
    options.schedule = flags.schedule == "files"    ? batch_schedule::files
                       : flags.schedule == "strips" ? batch_schedule::strips
                                                    : batch_schedule::automatic;
    options.timeout = timeout_of(flags.timeout_seconds);
    if (!flags.json_path.empty()) options.other_outputs.emplace_back(flags.json_path);
    // Workers first, while this process has one thread: they can be forked.
    std::unique_ptr<pool> workers;
    if (options.where == backend::processes && !flags.dry_run) {
        preload_libraries();  // once here rather than in every worker
        workers = std::make_unique<pool>(pool_options{.processes = options.workers, .timeout = options.timeout});
    }

    batch_plan plan;
    try {
        plan = plan_batch(inputs, output_dir, options);
    } catch (const chain_error& e) {
        fmt::print(stderr, "strata batch: bad filter chain: {}\n", e.what());
        return exit_usage;
    } catch (const usage_error& e) {
        fmt::print(stderr, "strata batch: {}\n", e.what());
        return exit_usage;
    }

    std::optional<detail::output_place> report;
    const auto write_report = [&](bool interrupted) {
        if (flags.json_path.empty()) return;
        const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
        if (!report) report = report_place(flags.json_path, output_dir);
        write_file_atomically(*report, report_of(plan, flags, seconds, interrupted)
                                           .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                           "\n");
    };

    const std::size_t to_convert = tally(plan)[item_status::pending];
    if (flags.dry_run) {
        for (const auto& item : plan.items) {
            if (item.status == item_status::pending) {
                fmt::print("would write {} from {}\n", item.output.string(), item.input.string());
            } else if (!flags.quiet) {
                fmt::print("would {} {}: {}\n", item.status == item_status::failed ? "fail" : "skip",
                           item.input.string(), item.note);
            }
        }
        fmt::print("dry run: {} to convert, {} other{}; nothing was written\n", to_convert,
                   plan.items.size() - to_convert, plan.items.size() - to_convert == 1 ? "" : "s");
        write_report(false);
        return exit_ok;
    }

    if (to_convert > 0) {
        if (const std::string problem = prepare_output_dir(output_dir); !problem.empty()) {
            fmt::print(stderr, "strata batch: {}\n", problem);
            return exit_failure;
        }
    }
    // Where the report goes is settled before any work.
    if (!flags.json_path.empty()) {
        try {
            report = report_place(flags.json_path, output_dir);
        } catch (const image_error& e) {
            fmt::print(stderr, "strata batch: --json {}\n", e.what());
            return exit_usage;
        }
    }

    progress bar(to_convert, flags.quiet);
    // Notes found while planning: files skipped or refused before any work.
    for (const auto& item : plan.items) {
        if (item.status == item_status::failed) {
            fmt::print(stderr, "strata batch: failed: {}: {}\n", item.input.string(), item.note);
        } else if (item.status == item_status::skipped && item.note != "output exists" && !flags.quiet) {
            fmt::print(stderr, "strata batch: skipped {}: {}\n", item.input.string(), item.note);
        }
    }

    std::size_t done = 0;
    {
        const stop_signals catching;
        run_batch(plan, options, workers.get(),
                  [&](const batch_item& item) {
                      ++done;
                      if (item.status == item_status::failed) {
                          bar.interject();
                          fmt::print(stderr, "strata batch: failed: {}: {}\n", item.input.string(), item.note);
                      } else if (item.status == item_status::converted && !item.note.empty() && !flags.quiet) {
                          bar.interject();
                          fmt::print(stderr, "strata batch: {}: {}\n", item.input.string(), item.note);
                      }
                      bar.update(done);
                  },
                  &stop_requested);
        bar.update(done, true);
    }
    if (workers) workers.reset();  // every worker reaped before the summary

    const int signal = stop_signal.load();
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    write_report(signal != 0);
    auto counts = tally(plan);
    const std::size_t converted = counts[item_status::converted];
    const std::size_t failed = counts[item_status::failed];
    const std::size_t interrupted = counts[item_status::interrupted];
    if (!flags.quiet || signal != 0) {
        fmt::print("{}converted {}, skipped {}, failed {}{} in {:.2f} s ({:.1f} images/s) into {}\n",
                   signal != 0 ? "interrupted: " : "", converted, counts[item_status::skipped], failed,
                   interrupted > 0 ? fmt::format(", not done {}", interrupted) : "", seconds,
                   seconds > 0 ? static_cast<double>(converted) / seconds : 0.0, output_dir.string());
    }
    if (signal != 0) {
        fmt::print(stderr, "strata batch: stopped by {}; run the same command again to convert the rest\n",
                   signal == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
        return 128 + signal;
    }
    if (!flags.json_path.empty() && !flags.quiet) fmt::print("report written to {}\n", flags.json_path);
    return failed > 0 ? exit_failure : exit_ok;
}

runner setup_batch(CLI::App& sub) {
    auto flags = std::make_shared<batch_flags>();
    sub.add_option("paths", flags->paths, "Input folders and image files, then the output folder")
        ->required()
        ->expected(2, -1);
    sub.add_option("-f,--filter", flags->options.chain,
                   "Filter chain, e.g. 'thumbnail=256' or 'gaussblur=sigma=3,sharpen=amount=1.5' (none: convert only)");
    sub.add_flag("-r,--recursive", flags->options.recursive, "Descend into sub-folders and mirror them in the output folder");
    sub.add_flag("--follow-symlinks", flags->options.follow_symlinks,
                 "Enter symbolic links to folders (links to files are always read; no folder is walked twice)");
    sub.add_flag("--hidden", flags->options.hidden,
                 "Also convert hidden files and enter hidden folders (names starting with '.'; left out by default)");
    sub.add_option("--include", flags->options.include, "Only files matching this glob (repeatable; case-insensitive)");
    sub.add_option("--exclude", flags->options.exclude, "Leave out files and folders matching this glob (repeatable)");
    sub.add_option("--format", flags->options.format, "Output format")
        ->check(one_of({"same", "jpeg", "jpg", "png", "webp", "tiff", "tif", "gif", "heif", "avif", "jxl"}))
        ->capture_default_str();
    sub.add_option("--name", flags->options.name_template,
                   "Output name: {stem} {ext} {srcext} {name} {dir} {index} {index:N} "
                   "(default {stem}.{ext}; {dir}/{stem}.{ext} with --recursive)");
    flags->writing.add_to(sub);
    add_backend_option(sub, flags->backend);
    sub.add_option("-w,--workers", flags->options.workers, "Worker processes or threads (default: one per core)")
        ->check(whole_number(1, 1024));
    sub.add_option("--schedule", flags->schedule,
                   "auto: whole files per worker when there are at least as many files as workers, else strips")
        ->check(one_of({"auto", "files", "strips"}))
        ->capture_default_str();
    add_timeout_option(sub, flags->timeout_seconds);
    sub.add_option("--retries", flags->options.retries,
                   "Convert a file again this many times when its worker process is lost (killed, crashed)")
        ->check(whole_number(0, 100))
        ->capture_default_str();
    auto* overwrite = sub.add_flag("--overwrite", flags->overwrite, "Replace outputs that exist (default: skip them)");
    sub.add_flag("--fail-if-exists", flags->fail_if_exists, "Refuse to start if any output exists")->excludes(overwrite);
    sub.add_flag("-n,--dry-run", flags->dry_run, "Print what would be written; write nothing");
    sub.add_option("--json", flags->json_path, "Write a report (every file, its status, sizes and time) to this file");
    sub.add_flag("--quiet", flags->quiet, "No progress, notes or summary; failures are still printed");
    flags->loading.add_to(sub, true);
    return [flags] { return run_batch_command(*flags); };
}

STRATA_COMMAND("batch", "Convert folders of images (through a filter chain if given) into an output folder", setup_batch);

}  // namespace

}  // namespace strata::cli
