// Attack: hostile trees. Symbolic links, hard links, FIFOs and devices are
// planted in the input and output trees, and hostile files among the inputs;
// after every run nothing outside the output folder has changed (a decoy
// tree, compared entry by entry), no input has changed, no temporary file is
// left, and the run ended by itself (no hang, no crash).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::contains;
using strata::test::snapshot;
using strata::test::testdata;

// in/ (inputs), out/ (the output folder), decoy/ (what no run may touch).
struct arena {
    strata::test::temp_folder folder;
    fs::path in = folder.path / "in";
    fs::path out = folder.path / "out";
    fs::path decoy = folder.path / "decoy";
    std::vector<std::string> planted;  ///< what could be planted here (mknod needs root)

    arena() {
        fs::create_directories(in / "sub");
        fs::create_directories(out);
        fs::create_directories(decoy / "folder");
        fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "chelsea.jpg");
        fs::copy_file(testdata() / "photos" / "camera.png", in / "sub" / "camera.png");
        fs::copy_file(testdata() / "photos" / "astronaut.jpg", decoy / "precious.jpg");
        fs::copy_file(testdata() / "photos" / "coffee-rgba.png", decoy / "folder" / "coffee.png");
        std::ofstream(decoy / "notes.txt") << "do not touch\n";
    }

    bool plant_fifo(const fs::path& where) {
        if (::mkfifo(where.c_str(), 0644) != 0) return false;
        planted.push_back("fifo " + where.string());
        return true;
    }
    // A character device (the same as /dev/null), where this process may make one.
    bool plant_device(const fs::path& where) {
        if (::mknod(where.c_str(), S_IFCHR | 0644, makedev(1, 3)) != 0) return false;
        planted.push_back("device " + where.string());
        return true;
    }

    strata::test::run_result run(std::vector<std::string> args) const {
        args.insert(args.begin(), strata::test::strata_exe().string());
        return strata::test::run(args, {}, std::chrono::seconds(60));
    }
};

// The checks after every run.
void check_contained(const arena& place, const std::map<std::string, std::string>& decoy_before,
                     const std::map<std::string, std::string>& input_before, const strata::test::run_result& result) {
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code >= 0);  // ended by itself, not by a signal
    CHECK(result.exit_code <= 2);
    CHECK_FALSE(contains(result.err, "unexpected failure"));
    CHECK(snapshot(place.decoy) == decoy_before);
    CHECK(snapshot(place.in) == input_before);
    CHECK(strata::test::no_temporaries(place.folder.path));
}

}  // namespace

TEST_CASE("Attack.Inputs.links, loops, FIFOs and devices among the inputs are read or skipped, never followed into a hang") {
    arena place;
    fs::create_symlink(place.decoy / "precious.jpg", place.in / "linked.jpg");          // a file elsewhere: read
    fs::create_directory_symlink(place.decoy / "folder", place.in / "linked-folder");  // entered only when asked
    fs::create_directory_symlink(place.in, place.in / "sub" / "loop");                 // a cycle
    fs::create_symlink(place.folder.path / "nowhere.jpg", place.in / "dangling.jpg");
    fs::create_symlink("/dev/zero", place.in / "zero.jpg");                             // endless bytes
    fs::create_hard_link(place.decoy / "notes.txt", place.in / "hard.jpg");             // not an image
    place.plant_fifo(place.in / "pipe.jpg");  // a reader of this would wait forever
    place.plant_device(place.in / "device.png");
    std::ofstream(place.in / "empty.png").close();
    const auto decoy_before = snapshot(place.decoy);
    const auto input_before = snapshot(place.in);

    for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--follow-symlinks"}, {"--overwrite"},
                                                  {"--schedule", "strips"}, {"--backend", "threads"}}) {
        CAPTURE(fmt::format("{}", fmt::join(extra, " ")));
        std::vector<std::string> args{"batch", place.in.string(), place.out.string(), "-r", "-f", "invert", "-w", "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto result = place.run(args);
        check_contained(place, decoy_before, input_before, result);
        CHECK(result.exit_code == 1);  // empty.png and hard.jpg are broken images
        CHECK(fs::is_regular_file(place.out / "linked.jpg"));
        CHECK(fs::is_regular_file(place.out / "chelsea.jpg"));
        CHECK(contains(result.err, "skipped " + (place.in / "zero.jpg").string() + ": not a regular file"));
        if (fs::exists(place.in / "pipe.jpg")) {
            CHECK(contains(result.err, "skipped " + (place.in / "pipe.jpg").string() + ": not a regular file"));
        }
        // Files named on the command line are checked the same way.
        const auto named = place.run({"batch", (place.in / "pipe.jpg").string(), (place.in / "zero.jpg").string(),
                                      (place.out / "named").string(), "-f", "invert"});
        check_contained(place, decoy_before, input_before, named);
        CHECK(named.exit_code == 1);
        fs::remove_all(place.out);
    }
    MESSAGE("planted: " << fmt::format("{}", fmt::join(place.planted, ", ")));
}

TEST_CASE("Attack.Outputs.links, hard links, FIFOs, devices and folders where outputs go: refused or replaced, never written through") {
    arena place;
    fs::create_directory_symlink(place.decoy, place.out / "sub");                      // a folder the run writes into
    fs::create_symlink(place.decoy / "precious.jpg", place.out / "chelsea.jpg");      // an output's own name
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", place.decoy / "hard.jpg");
    fs::create_directories(place.in / "more");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", place.in / "more" / "hard.jpg");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", place.in / "more" / "pipe.jpg");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", place.in / "more" / "device.jpg");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", place.in / "more" / "folder.jpg");
    fs::create_directories(place.out / "more" / "folder.jpg");
    fs::create_hard_link(place.decoy / "hard.jpg", place.out / "more" / "hard.jpg");  // another name of a decoy file
    place.plant_fifo(place.out / "more" / "pipe.jpg");
    place.plant_device(place.out / "more" / "device.jpg");
    fs::create_symlink(place.decoy / "notes.txt", place.out / "report.json");  // the report's name
    const auto decoy_before = snapshot(place.decoy);
    const auto input_before = snapshot(place.in);

    // Without --overwrite: every name that is taken stays as it is.
    auto result = place.run({"batch", place.in.string(), place.out.string(), "-r", "-f", "invert"});
    check_contained(place, decoy_before, input_before, result);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "output folder 'sub' is a symbolic link"));
    CHECK(fs::is_symlink(place.out / "chelsea.jpg"));
    result = place.run({"batch", place.in.string(), place.out.string(), "-r", "-f", "invert", "--fail-if-exists"});
    check_contained(place, decoy_before, input_before, result);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "already exist"));

    // With --overwrite: names are replaced, what they pointed at is not.
    for (const char* schedule : {"files", "strips"}) {
        CAPTURE(schedule);
        result = place.run({"batch", place.in.string(), place.out.string(), "-r", "-f", "invert", "--overwrite",
                            "--schedule", schedule, "--json", (place.out / "report.json").string()});
        check_contained(place, decoy_before, input_before, result);
        CHECK(result.exit_code == 1);
        CHECK(contains(result.err, "output folder 'sub' is a symbolic link"));
        CHECK(contains(result.err, (place.in / "more" / "folder.jpg").string() + ": is a folder"));
        CHECK(fs::is_regular_file(fs::symlink_status(place.out / "chelsea.jpg")));
        CHECK(fs::is_regular_file(fs::symlink_status(place.out / "more" / "hard.jpg")));
        CHECK(fs::is_regular_file(fs::symlink_status(place.out / "more" / "pipe.jpg")));
        CHECK(fs::is_regular_file(fs::symlink_status(place.out / "report.json")));
    }
    // A report through a link below the output folder is refused before any work.
    result = place.run({"batch", place.in.string(), place.out.string(), "-f", "invert", "--json",
                        (place.out / "sub" / "report.json").string()});
    CHECK(result.exit_code == 2);
    check_contained(place, decoy_before, input_before, result);
    MESSAGE("planted: " << fmt::format("{}", fmt::join(place.planted, ", ")));
}

TEST_CASE("Attack.Files.hostile files fail alone and fast: a disguised SVG reading a local file, a cost bomb, junk") {
    arena place;
    const std::string svg_body = "<svg width=\"64\" height=\"48\" xmlns=\"http://www.w3.org/2000/svg\" "
                                 "xmlns:xlink=\"http://www.w3.org/1999/xlink\"><image width=\"64\" height=\"48\" "
                                 "xlink:href=\"" + (place.decoy / "precious.jpg").string() + "\"/></svg>\n";
    std::ofstream(place.in / "disguised.jpg") << "<?xml version=\"1.0\"?>\n<!--" << std::string(1100, 'A') << "-->\n"
                                              << svg_body;
    // 189 bytes that take minutes and gigabytes to render.
    std::ofstream(place.in / "bomb.svg")
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16000\" height=\"16000\"><filter id=\"b\"><feGaussianBlur "
           "stdDeviation=\"500\"/></filter><rect width=\"16000\" height=\"16000\" filter=\"url(#b)\"/></svg>\n";
    std::ofstream(place.in / "junk.png") << std::string(4096, '\x89');
    fs::copy_file(testdata() / "broken" / "bomb-10gpixels.png", place.in / "pixels.png");
    const auto decoy_before = snapshot(place.decoy);
    const auto input_before = snapshot(place.in);

    auto start = std::chrono::steady_clock::now();
    auto result = place.run({"batch", place.in.string(), place.out.string(), "-r", "-f", "invert", "--format", "png"});
    check_contained(place, decoy_before, input_before, result);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb.svg: SVG files are read by svgload, which libvips marks unsafe"));
    CHECK(contains(result.err, "disguised.jpg: not an image strata reads"));
    // PNG to PNG streams, with no pixel limit by default: decoding starts in
    // bounded memory and finds the file short.
    CHECK(contains(result.err, "pixels.png: libpng read error"));
    CHECK_FALSE(fs::exists(place.out / "pixels.png"));
    CHECK_FALSE(fs::exists(place.out / "disguised.png"));
    CHECK_FALSE(fs::exists(place.out / "bomb.png"));
    CHECK(fs::exists(place.out / "chelsea.png"));

    // Allowed on purpose, the SVG renderer is still bounded by --timeout: the
    // file is converted whole in a worker, never in the parent.
    for (const char* schedule : {"files", "strips"}) {
        CAPTURE(schedule);
        start = std::chrono::steady_clock::now();
        result = place.run({"batch", (place.in / "bomb.svg").string(), (place.out / schedule).string(), "-f", "invert",
                            "--format", "png", "--allow-loader", "svgload", "--timeout", "2", "--schedule", schedule});
        check_contained(place, decoy_before, input_before, result);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
        CHECK(result.exit_code == 1);
        CHECK(contains(result.err, "bomb.svg: timed out after 2 s; its worker was killed (--timeout)"));
    }
    start = std::chrono::steady_clock::now();
    result = place.run({"apply", (place.in / "bomb.svg").string(), (place.out / "bomb.png").string(), "-f", "invert",
                        "--allow-loader", "svgload", "--timeout", "2"});
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "timed out after 2 s"));
    CHECK_FALSE(fs::exists(place.out / "bomb.png"));
    check_contained(place, decoy_before, input_before, result);
}
