// Cli.Batch: folders through a chain, the report, resuming, and refusals.
#include <doctest/doctest.h>

#include <sys/mount.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/skip.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::all_complete;
using strata::test::contains;
using strata::test::contents;
using strata::test::files_in;
using strata::test::make_photos;
using strata::test::no_temporaries;
using strata::test::run_strata;
using strata::test::temp_folder;
using strata::test::testdata;
using strata::test::workers_of;

// A tmpfs mounted over `where` for one test, if this process may mount (it
// needs root); `mounted` says whether it is.
struct tmpfs_mount {
    fs::path where;
    bool mounted = false;
    tmpfs_mount(fs::path folder, const char* options, unsigned long flags = 0) : where(std::move(folder)) {
        fs::create_directories(where);
        mounted = ::mount("tmpfs", where.c_str(), "tmpfs", flags, options) == 0;
    }
    ~tmpfs_mount() {
        if (mounted) ::umount2(where.c_str(), MNT_DETACH);
    }
    tmpfs_mount(const tmpfs_mount&) = delete;
    tmpfs_mount& operator=(const tmpfs_mount&) = delete;
};

}  // namespace

TEST_CASE("Cli.Batch.mirrors a tree, reports every file, and resumes") {
    temp_folder folder;
    const fs::path in = folder.path / "in dir é";
    fs::create_directories(in / "nested" / "deeper");
    fs::create_directories(in / "empty");
    fs::copy_file(testdata() / "photos" / "camera.png", in / "camera shot.png");
    fs::copy_file(testdata() / "photos" / "coffee-rgba.png", in / "nested" / "coffee.png");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "nested" / "deeper" / "chelsea.jpg");
    fs::copy_file(testdata() / "broken" / "truncated.jpg", in / "truncated.jpg");
    std::ofstream(in / "notes.txt") << "not a picture\n";
    std::ofstream(in / "zero.jpg").close();
    const fs::path out = folder.path / "out";
    const std::string report = (folder.path / "report.json").string();

    auto result = run_strata({"batch", in.string(), out.string(), "-f", "gaussblur=1.5,invert", "-r", "--format", "png",
                              "--json", report, "-w", "2"});
    CHECK(result.exit_code == 1);  // two broken images
    CHECK(contains(result.err, "truncated.jpg: premature end of input file"));
    CHECK(contains(result.err, "skipped " + (in / "notes.txt").string() + ": not an image"));
    CHECK(contains(result.out, "converted 3, skipped 1, failed 2"));
    CHECK(fs::exists(out / "camera shot.png"));
    CHECK(fs::exists(out / "nested" / "deeper" / "chelsea.png"));
    CHECK(no_temporaries(out));

    // The same pixels as `strata apply` on that one file.
    const std::string single = (folder.path / "single.png").string();
    REQUIRE(run_strata({"apply", (in / "nested" / "coffee.png").string(), single, "-f", "gaussblur=1.5,invert"}).exit_code == 0);
    const auto a = strata::read_image(single);
    const auto b = strata::read_image(out / "nested" / "coffee.png");
    REQUIRE(a.layout() == b.layout());
    CHECK(std::memcmp(a.pixels().data(), b.pixels().data(), a.layout().bytes()) == 0);

    const auto json = nlohmann::json::parse(std::ifstream(report));
    CHECK(json["totals"]["converted"] == 3);
    CHECK(json["totals"]["failed"] == 2);
    CHECK(json["files"].size() == 6);
    for (const auto& file : json["files"]) {
        if (file["status"] == "converted") CHECK(file["bytes_out"].get<std::uint64_t>() > 0);
        if (file["status"] == "failed") CHECK(!file["error"].get<std::string>().empty());
    }

    // Again: everything done is skipped; only the broken files are tried again.
    result = run_strata({"batch", in.string(), out.string(), "-f", "gaussblur=1.5,invert", "-r", "--format", "png"});
    CHECK(contains(result.out, "converted 0, skipped 4, failed 2"));
    result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "-r", "--format", "png", "--fail-if-exists"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "already exist"));
}

TEST_CASE("Cli.Batch.refuses runs that would touch their inputs, and dry runs write nothing") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in);
    fs::copy_file(testdata() / "photos" / "camera.png", in / "a.png");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "a.jpg");

    auto result = run_strata({"batch", in.string(), (in / "out").string(), "-f", "invert"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "is inside the input folder"));
    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "invert", "--format", "png"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "would both be written to"));
    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "invert", "--name", "{nope}.png"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "unknown field '{nope}'"));
    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "invert", "--name", "../{name}"});
    CHECK(result.exit_code == 2);
    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "blurr"});
    CHECK(result.exit_code == 2);

    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "invert", "--dry-run",
                         "--name", "{stem}_{srcext}_{index:3}.webp"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "a_jpg_001.webp"));
    CHECK(contains(result.out, "a_png_002.webp"));
    CHECK_FALSE(fs::exists(folder.path / "out"));
}

TEST_CASE("Cli.Batch.SIGINT and SIGTERM stop promptly, leave only complete files, and the same command finishes the rest") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    // 16 photographs of 2048x2048, enough work to stop in the middle of.
    constexpr int count = 16;
    make_photos(in, "astronaut.jpg", 4, count);

    struct stop_case {
        int signal;
        const char* schedule;  // whole files per worker, or one file's strips over the workers
        int exit_code;
    };
    for (const auto& [signal, schedule, exit_code] : {stop_case{SIGINT, "files", 130}, stop_case{SIGTERM, "strips", 143}}) {
        CAPTURE(signal);
        const fs::path out = folder.path / ("out-" + std::string(schedule));
        const std::string report = (folder.path / "report.json").string();
        const std::vector<std::string> command = {"batch", in.string(), out.string(), "-f", "gaussblur=2", "-w", "1",
                                                  "--schedule", schedule, "--json", report};
        std::size_t done_when_stopped = 0;
        std::chrono::steady_clock::time_point signalled;
        auto result = strata::test::run_strata_while(command, [&](pid_t pid) {
            // Once the first file is written, as a user would press Ctrl-C.
            const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (std::chrono::steady_clock::now() < give_up && (!fs::exists(out) || files_in(out) == 0)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            done_when_stopped = fs::exists(out) ? files_in(out) : 0;
            signalled = std::chrono::steady_clock::now();
            ::kill(-pid, signal);
        });
        const double stop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
        REQUIRE(done_when_stopped > 0);
        REQUIRE(done_when_stopped < count);
        CHECK(result.exit_code == exit_code);
        CHECK(contains(result.out, "interrupted: converted "));
        CHECK(contains(result.err, "run the same command again to convert the rest"));
        CHECK(stop_seconds < 2);  // milliseconds: stopping waits for no worker
        CHECK(no_temporaries(out));
        CHECK(all_complete(out));
        const std::size_t converted = files_in(out);
        CHECK(converted < count);
        const auto json = nlohmann::json::parse(std::ifstream(report));
        CHECK(json["interrupted"] == true);
        CHECK(json["totals"]["converted"] == converted);
        CHECK(json["totals"]["interrupted"] == count - converted);

        // The same command again: what was done is skipped, the rest converted.
        result = run_strata(command);
        CHECK(result.exit_code == 0);
        CHECK(contains(result.out, fmt::format("converted {}, skipped {}, failed 0", count - converted, converted)));
        CHECK(files_in(out) == count);
        CHECK(all_complete(out));
    }
}

TEST_CASE("Cli.Batch.symbolic links: files are read, folders entered only when asked, loops never") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    const fs::path elsewhere = folder.path / "elsewhere";
    fs::create_directories(in / "sub");
    fs::create_directories(elsewhere);
    fs::copy_file(testdata() / "photos" / "camera.png", in / "sub" / "camera.png");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", elsewhere / "chelsea.jpg");
    fs::create_symlink(elsewhere / "chelsea.jpg", in / "linked-file.jpg");
    fs::create_directory_symlink(elsewhere, in / "linked-folder");
    fs::create_directory_symlink(in, in / "sub" / "loop");  // a cycle back to the top
    fs::create_symlink(folder.path / "nowhere.jpg", in / "dangling.jpg");

    const fs::path out = folder.path / "out";
    auto result = run_strata({"batch", in.string(), out.string(), "-r", "-f", "invert", "--format", "png"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "skipped " + (in / "dangling.jpg").string() + ": broken symbolic link"));
    CHECK(contains(result.err, "skipped " + (in / "linked-folder").string() +
                                   ": symbolic link to a folder (use --follow-symlinks to enter it)"));
    CHECK(fs::exists(out / "linked-file.png"));
    CHECK(fs::exists(out / "sub" / "camera.png"));
    CHECK_FALSE(fs::exists(out / "linked-folder"));
    CHECK(files_in(out) == 2);

    const fs::path followed = folder.path / "followed";
    result = run_strata({"batch", in.string(), followed.string(), "-r", "--follow-symlinks", "-f", "invert",
                         "--format", "png"});
    CHECK(result.exit_code == 0);
    CHECK(fs::exists(followed / "linked-folder" / "chelsea.png"));
    CHECK(fs::exists(followed / "sub" / "camera.png"));
    CHECK(files_in(followed) == 3);  // the loop is not walked again
}

TEST_CASE("Cli.Batch.a full disk fails the files that do not fit, leaving no partial file; a read-only output is refused (needs root)") {
    temp_folder folder;
    // Several sizes, so that the disk fills at different points of a file
    // (its first write, the middle, the encoder's last flush).
    for (const char* size : {"size=160k", "size=220k", "size=300k", "size=360k", "size=420k", "size=500k"}) {
        CAPTURE(size);
        tmpfs_mount small(folder.path / "small", size);
        if (!small.mounted) return strata::test::skip("this process cannot mount a tmpfs (needs root)");
        const auto result = run_strata({"batch", (testdata() / "photos").string(), (small.where / "out").string(),
                                        "-f", "invert", "--format", "png"});
        CHECK(result.exit_code == 1);
        CHECK(contains(result.err, "cannot write: No space left on device"));
        CHECK(contains(result.out, "failed "));
        CHECK(no_temporaries(small.where));
        CHECK(all_complete(small.where));
    }

    tmpfs_mount read_only(folder.path / "read-only", "size=64k", MS_RDONLY);
    REQUIRE(read_only.mounted);
    const auto result =
        run_strata({"batch", (testdata() / "photos").string(), (read_only.where / "out").string(), "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "cannot create the output folder " + (read_only.where / "out").string() +
                                   ": Read-only file system"));
}

TEST_CASE("Cli.Batch.a clean run exits 0; outputs never land on inputs") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in / "empty");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "chelsea.jpg");
    auto result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-r", "-f", "sepia"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "converted 1, skipped 0, failed 0"));
    CHECK_FALSE(fs::exists(folder.path / "out" / "empty"));  // empty folders are not mirrored
    // Nor is a folder whose every file failed: it is made for the first
    // try, and removed again once it is clear nothing landed in it.
    fs::create_directories(in / "bad" / "deeper");
    std::ofstream(in / "bad" / "deeper" / "broken.png") << "not a png";
    result = run_strata({"batch", in.string(), (folder.path / "out2").string(), "-r", "-f", "sepia"});
    CHECK(result.exit_code == 1);
    CHECK(fs::exists(folder.path / "out2" / "chelsea.jpg"));
    CHECK_FALSE(fs::exists(folder.path / "out2" / "bad"));
    fs::remove_all(in / "bad");

    // The input folder itself as the output folder.
    result = run_strata({"batch", in.string(), in.string(), "-f", "sepia"});
    CHECK(result.exit_code == 2);
    // A file given by name, written into its own folder under its own name.
    result = run_strata({"batch", (in / "chelsea.jpg").string(), in.string(), "-f", "sepia"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "chelsea.jpg"));
    CHECK(files_in(in) == 1);
}

TEST_CASE("Cli.Batch.workers killed at random: files are converted again (--retries), or fail alone, never half-written") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    constexpr int count = 12;
    make_photos(in, "chelsea.jpg", 3, count);
    const auto command = [&](const fs::path& out, const char* retries) {
        return std::vector<std::string>{"batch", in.string(), out.string(), "-f", "median=7,gaussblur=2", "-q", "90",
                                        "-w", "2", "--schedule", "files", "--retries", retries,
                                        "--json", (out.string() + ".json")};
    };
    const fs::path reference = folder.path / "reference";
    REQUIRE(run_strata(command(reference, "0")).exit_code == 0);

    // Kills a worker three times, 150 ms apart, while the batch runs.
    const auto kill_workers = [](pid_t pid) {
        std::mt19937 random(11);
        for (int kills = 0; kills < 3;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            const auto workers = workers_of(pid);
            if (workers.empty()) continue;
            if (::kill(workers[random() % workers.size()], SIGKILL) == 0) ++kills;
        }
    };
    const auto same_as_reference = [&](const fs::path& out) {
        for (int i = 1; i <= count; ++i) {
            const auto name = fmt::format("photo-{:02}.jpg", i);
            if (fs::exists(out / name) && contents(out / name) != contents(reference / name)) return false;
        }
        return true;
    };

    const fs::path retried = folder.path / "retried";
    auto result = strata::test::run_strata_while(command(retried, "5"), kill_workers);
    CHECK(result.exit_code == 0);
    CHECK(files_in(retried) == count);
    CHECK(same_as_reference(retried));
    CHECK(contains(result.err, "converted again: the worker converting it was killed by signal 9"));
    auto report = nlohmann::json::parse(std::ifstream(retried.string() + ".json"));
    CHECK(report["totals"]["converted"] == count);

    const fs::path unretried = folder.path / "unretried";
    result = strata::test::run_strata_while(command(unretried, "0"), kill_workers);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "failed: " + (in / "photo-").string()));
    CHECK(contains(result.err, ": the worker converting it was killed by signal 9"));
    CHECK(no_temporaries(unretried));
    CHECK(all_complete(unretried));
    CHECK(same_as_reference(unretried));
    report = nlohmann::json::parse(std::ifstream(unretried.string() + ".json"));
    const int failed = report["totals"]["failed"].get<int>();
    CHECK(failed >= 1);
    CHECK(failed <= 3);
    CHECK(files_in(unretried) == static_cast<std::size_t>(count - failed));
    // The same command again converts what failed.
    result = run_strata(command(unretried, "0"));
    CHECK(result.exit_code == 0);
    CHECK(files_in(unretried) == count);
    CHECK(same_as_reference(unretried));
}
