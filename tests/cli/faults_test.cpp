// Cli.Faults: a batch whose fork server is killed or whose worker is stopped
// finishes, fails only what it must, and writes a report that says so.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"
#include "support/files.hpp"
#include "support/cgroup.hpp"
#include "support/paths.hpp"
#include "support/skip.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::all_complete;
using strata::test::children_of;
using strata::test::contains;
using strata::test::files_in;
using strata::test::make_photos;
using strata::test::no_temporaries;
using strata::test::run_strata;
using strata::test::temp_folder;
using strata::test::workers_of;

// Waits (up to 30 s) until the strata process `pid` has workers; returns them.
std::vector<pid_t> wait_for_workers(pid_t pid, std::size_t at_least) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::vector<pid_t> found;
    while ((found = workers_of(pid)).size() < at_least && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return found;
}

// CPU time (user + system ticks) a process has used so far.
long cpu_ticks(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) return -1;
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    long user = 0;
    long system = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) user = std::stol(field);
        if (i == 15) system = std::stol(field);
    }
    return user + system;
}

// A worker of `pid` that is computing right now (its CPU time grows), or 0.
pid_t busy_worker(pid_t pid) {
    for (int look = 0; look < 200; ++look) {
        const auto workers = workers_of(pid);
        std::vector<long> before;
        for (const pid_t worker : workers) before.push_back(cpu_ticks(worker));
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        for (std::size_t i = 0; i < workers.size(); ++i) {
            if (cpu_ticks(workers[i]) > before[i] + 1) return workers[i];
        }
    }
    return 0;
}

// Waits until the first output exists in `out`.
void wait_for_first_output(const fs::path& out) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < give_up && (!fs::exists(out) || files_in(out) == 0)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// The report's files by status.
std::map<std::string, int> statuses(const nlohmann::json& report) {
    std::map<std::string, int> counts;
    for (const auto& file : report["files"]) ++counts[file["status"].get<std::string>()];
    return counts;
}

}  // namespace

TEST_CASE("Cli.Faults.the fork server killed mid-batch: spawned workers take over, every file is converted, the report is complete") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    constexpr int count = 16;
    make_photos(in, "chelsea.jpg", 4, count);
    const fs::path out = folder.path / "out";
    const fs::path report = folder.path / "report.json";
    bool killed = false;
    const auto result = strata::test::run_strata_while(
        {"batch", in.string(), out.string(), "-f", "median=size=7,sharpen", "-w", "2", "--schedule", "files",
         "--retries", "2", "--json", report.string()},
        [&](pid_t pid) {
            wait_for_workers(pid, 2);
            wait_for_first_output(out);
            // The fork server is the child whose children are the workers.
            for (const pid_t child : children_of(pid)) {
                if (!children_of(child).empty()) killed = ::kill(child, SIGKILL) == 0;
            }
        });
    REQUIRE(killed);
    CHECK(result.exit_code == 0);
    CHECK(files_in(out) == count);
    CHECK(all_complete(out));
    CHECK(no_temporaries(out));
    const auto json = nlohmann::json::parse(std::ifstream(report));
    CHECK(json["totals"]["converted"] == count);
    CHECK(statuses(json)["converted"] == count);
}

TEST_CASE("Cli.Faults.a stopped worker: its file fails alone after --timeout, its worker is replaced, the run ends") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    constexpr int count = 8;
    make_photos(in, "chelsea.jpg", 4, count);
    for (const std::string schedule : {"files", "strips"}) {
        CAPTURE(schedule);
        const fs::path out = folder.path / ("out-" + schedule);
        const fs::path report = folder.path / ("report-" + schedule + ".json");
        pid_t stopped = 0;
        const auto started = std::chrono::steady_clock::now();
        const auto result = strata::test::run_strata_while(
            {"batch", in.string(), out.string(), "-f", "median=size=7", "-w", "2", "--schedule", schedule,
             "--timeout", "2", "--json", report.string()},
            [&](pid_t pid) {
                wait_for_workers(pid, 2);
                wait_for_first_output(out);
                const pid_t busy = busy_worker(pid);
                if (busy != 0 && ::kill(busy, SIGSTOP) == 0) stopped = busy;
            });
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        REQUIRE(stopped != 0);
        ::kill(stopped, SIGKILL);  // in case it outlived the run (it must not have)
        CHECK(seconds < 30);
        CHECK(result.exit_code == 1);
        CHECK(contains(result.err, "timed out after 2 s; its worker was killed (--timeout)"));
        const auto json = nlohmann::json::parse(std::ifstream(report));
        CHECK(json["totals"]["failed"] == 1);
        CHECK(json["totals"]["converted"] == count - 1);
        CHECK(files_in(out) == count - 1);
        CHECK(all_complete(out));
        CHECK(no_temporaries(out));
    }
}

TEST_CASE("Cli.Faults.an input cut short while it is read fails alone: no SIGBUS, no output, a report") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in);
    // libvips maps .v files into memory: a file truncated under the mapping
    // raised SIGBUS in the process reading it.
    const fs::path original = folder.path / "big.v";
    strata::write_image(strata::image({6000, 6000, 3, strata::sample_type::u8}), original);
    int cut_mid_read = 0;
    for (const int delay_ms : {30, 60, 90, 120, 160, 200, 250, 300, 400, 550, 750, 1000}) {
        CAPTURE(delay_ms);
        fs::copy_file(original, in / "big.v", fs::copy_options::overwrite_existing);
        const fs::path out = folder.path / fmt::format("out-{}", delay_ms);
        const fs::path report = folder.path / fmt::format("report-{}.json", delay_ms);
        const auto result = strata::test::run_strata_while(
            {"batch", in.string(), out.string(), "-f", "invert", "--format", "png", "--schedule", "strips", "-w", "2",
             "--allow-loader", "vipsload", "--json", report.string()},
            [&](pid_t) {
                std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                fs::resize_file(in / "big.v", 100'000);
            });
        CHECK(result.exit_code >= 0);  // not killed by a signal
        REQUIRE(fs::exists(report));
        const auto json = nlohmann::json::parse(std::ifstream(report));
        if (result.exit_code == 1) {
            CHECK(json["totals"]["failed"] == 1);
            CHECK((!fs::exists(out) || files_in(out) == 0));
            cut_mid_read += contains(result.err, "changed while it was read (its size went from");
        } else {
            CHECK(result.exit_code == 0);  // read before the cut
        }
        if (fs::exists(out)) CHECK(no_temporaries(out));
    }
    CHECK(cut_mid_read > 0);  // at least one cut landed while the pixels were being read
}

TEST_CASE("Cli.Faults.SIGINT and SIGTERM leave no temporary file, for savers that write by name (FITS) too") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    constexpr int count = 12;
    make_photos(in, "astronaut.jpg", 3, count);
    int stopped_mid_run = 0;
    for (const int signal : {SIGINT, SIGTERM, SIGINT, SIGTERM}) {
        const fs::path out = folder.path / fmt::format("out-{}-{}", signal, stopped_mid_run);
        const auto result = strata::test::run_strata_while(
            {"batch", in.string(), out.string(), "-f", "invert", "--name", "{stem}.fits", "-w", "2"}, [&](pid_t pid) {
                wait_for_first_output(out);
                ::kill(-pid, signal);  // the whole process group, as a terminal does
            });
        CAPTURE(signal);
        CHECK(result.exit_code == 128 + signal);
        stopped_mid_run += files_in(out) < count;
        CHECK(no_temporaries(out));
    }
    CHECK(stopped_mid_run > 0);
    // One file, encoded in this process by `apply`, which has no handler of its own.
    make_photos(folder.path / "large", "astronaut.jpg", 6, 1);
    for (const int signal : {SIGINT, SIGTERM}) {
        CAPTURE(signal);
        const fs::path out = folder.path / "apply";
        fs::create_directories(out);
        const auto result = strata::test::run_strata_while(
            {"apply", (folder.path / "large" / "photo-01.jpg").string(), (out / "large.fits").string(), "-f", "invert"},
            [&](pid_t pid) {
                // Once the encoder has begun its hidden file.
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
                while (std::chrono::steady_clock::now() < give_up && fs::is_empty(out)) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                ::kill(-pid, signal);
            });
        CHECK(result.exit_code == -signal);
        CHECK(no_temporaries(out));
        CHECK(fs::is_empty(out));
    }
}

TEST_CASE("Cli.Faults.--max-memory auto follows the cgroup's limit and shares it among the images held at once (needs a memory cgroup)") {
    strata::test::memory_cgroup cgroup(std::uint64_t{1} << 30);
    if (cgroup.path.empty()) return strata::test::skip(cgroup.why_not);
    temp_folder folder;
    // 16000x16000 RGB, 16-bit: 1.4 GiB decoded, more than a 1 GiB cgroup holds.
    const std::string bomb = (strata::test::testdata() / "broken" / "bomb-16k-rgb16.png").string();
    const std::string strata_exe = strata::test::strata_exe().string();
    auto result = strata::test::run(
        {"/bin/sh", "-c", cgroup.joined(strata_exe + " apply '" + bomb + "' '" + (folder.path / "x.webp").string() + "' -f invert")});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "decodes to 1.4 GiB, over the memory limit of 256.0 MiB (--max-memory auto: half of the "
                               "1.0 GiB this process may use, from its cgroup memory."));
    CHECK(contains(result.err, cgroup.path.string()));
    CHECK_FALSE(fs::exists(folder.path / "x.webp"));

    // 7168x7168 RGB: 147 MiB decoded. Held whole (WebP output), one at a
    // time (strips) it fits the half of 1 GiB held twice; two at once
    // (files, 2 workers) it does not. Streamed (JPEG to JPEG), it fits always.
    const fs::path in = folder.path / "in";
    make_photos(in, "astronaut.jpg", 14, 2);
    const auto batch = [&](const std::string& out, const std::string& more) {
        return strata::test::run({"/bin/sh", "-c",
                                  cgroup.joined(strata_exe + " batch '" + in.string() + "' '" + (folder.path / out).string() +
                                                "' -f invert -w 2 " + more)});
    };
    result = batch("strips", "--schedule strips");
    CHECK(result.exit_code == 0);
    result = batch("files", "--schedule files --format webp");
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "over the memory limit of 128.0 MiB (512.0 MiB of memory for 2 files at once, each "
                               "held decoded and filtered; --max-memory auto: half of the 1.0 GiB"));
    // Held whole (WebP), a file is held to a limit given; streamed (JPEG), it
    // holds a few strips only, and no limit applies.
    result = batch("given", "--schedule strips --max-memory 40M --format webp");
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "over the memory limit of 40.0 MiB (--max-memory; raise it to read the image)"));
    result = batch("streamed", "--schedule strips --max-memory 40M");
    CHECK(result.exit_code == 0);
    result = batch("streamed-files", "--schedule files");
    CHECK(result.exit_code == 0);
}

TEST_CASE("Cli.Faults.out of descriptors, processes or memory: the message names the limit, never 'unexpected failure' (needs a build without sanitizers)") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers' runtimes reserve terabytes of shadow memory (ulimit -v
    // aborts them) and probe memory through pipes of their own (ulimit -n
    // makes UBSan report false vptr errors): these limits test them, not strata.
    return strata::test::skip("built with a sanitizer, whose runtime cannot run under ulimit -n or -v");
#endif
    temp_folder folder;
    const fs::path in = folder.path / "in";
    make_photos(in, "chelsea.jpg", 2, 6);
    const std::string strata_exe = strata::test::strata_exe().string();
    const auto limited = [&](const std::string& limit, const std::string& arguments) {
        return strata::test::run({"/bin/sh", "-c", limit + " && exec " + strata_exe + " " + arguments});
    };
    for (const char* schedule : {"files", "strips"}) {
        CAPTURE(schedule);
        for (const int files : {12, 13, 14}) {
            CAPTURE(files);
            const auto result = limited(fmt::format("ulimit -n {}", files),
                                        fmt::format("batch '{}' '{}' -f invert -w 2 --schedule {}", in.string(),
                                                    (folder.path / fmt::format("out-{}-{}", schedule, files)).string(),
                                                    schedule));
            CHECK(result.exit_code >= 0);
            if (result.exit_code != 0) {
                CHECK(contains(result.err, fmt::format("(ulimit -n: {} open files; raise it, or use fewer workers)", files)));
            }
            CHECK_FALSE(contains(result.err, "unexpected failure"));
            CHECK_FALSE(contains(result.err, "packet larger than the channel allows"));
        }
    }
    // Too little address space for the threads of a resize's encoder (with
    // no memory limit, which would refuse the resize before decoding).
    auto result = limited("ulimit -v 200000", fmt::format("apply '{}' '{}' -f resize=scale=6 --max-memory 0",
                                                          (in / "photo-01.jpg").string(), (folder.path / "big.png").string()));
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "ulimit -v"));
    CHECK_FALSE(contains(result.err, "unexpected failure"));
    CHECK_FALSE(fs::exists(folder.path / "big.png"));
    // With the automatic limit, the step is refused before decoding, and the
    // message says where the limit comes from.
    result = limited("ulimit -v 200000", fmt::format("apply '{}' '{}' -f resize=scale=6", (in / "photo-01.jpg").string(),
                                                     (folder.path / "big.png").string()));
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "step 1 of the chain (resize) would make"));
    CHECK(contains(result.err, "ulimit -v"));
    CHECK_FALSE(fs::exists(folder.path / "big.png"));
}
