// Cli.Containment: a batch writes only beneath its output folder, never over
// or among its inputs, and never replaces a file it did not mean to.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/strata.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::contains;
using strata::test::contents;
using strata::test::files_in;
using strata::test::no_temporaries;
using strata::test::run_strata;
using strata::test::snapshot;
using strata::test::temp_folder;
using strata::test::testdata;

bool same_pixels(const fs::path& a, const fs::path& b) {
    const auto first = strata::read_image(a);
    const auto second = strata::read_image(b);
    return first.layout() == second.layout() &&
           std::memcmp(first.pixels().data(), second.pixels().data(), first.layout().bytes()) == 0;
}

}  // namespace

TEST_CASE("Cli.Containment.a symbolic link below the output folder is refused per file, never followed") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in / "sub");
    fs::create_directories(in / "other");
    fs::copy_file(testdata() / "photos" / "astronaut.jpg", in / "sub" / "astronaut.jpg");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "other" / "chelsea.jpg");
    fs::copy_file(testdata() / "photos" / "camera.png", in / "camera.png");
    const fs::path victim = folder.path / "victim";
    fs::create_directories(victim);
    std::ofstream(victim / "astronaut.jpg") << "PRECIOUS";
    const fs::path out = folder.path / "out";
    fs::create_directories(out);
    fs::create_directory_symlink(victim, out / "sub");  // planted before the run
    fs::create_directory_symlink(in / "other", out / "other");  // a link back into the input
    const auto victim_before = snapshot(victim);
    const auto input_before = snapshot(in);

    for (const std::string existing : {"--dry-run", "--fail-if-exists", "--overwrite"}) {
        CAPTURE(existing);
        const auto result = run_strata({"batch", in.string(), out.string(), "-r", "-f", "invert", existing});
        if (existing == "--dry-run") {
            CHECK(result.exit_code == 0);
            CHECK(contains(result.out, "would fail " + (in / "sub" / "astronaut.jpg").string() +
                                           ": output folder 'sub' is a symbolic link"));
            continue;
        }
        CHECK(result.exit_code == 1);
        CHECK(contains(result.err, "failed: " + (in / "sub" / "astronaut.jpg").string() +
                                       ": output folder 'sub' is a symbolic link; strata never writes through one"));
        CHECK(contains(result.err, "failed: " + (in / "other" / "chelsea.jpg").string() +
                                       ": output folder 'other' is a symbolic link"));
        CHECK(fs::remove(out / "camera.png"));  // the rest of the run goes on
        CHECK(snapshot(victim) == victim_before);
        CHECK(snapshot(in) == input_before);
        CHECK(no_temporaries(out));
    }
    // Deeper: a link two levels down, and a file where a folder should be.
    fs::remove(out / "sub");
    fs::create_directories(out / "sub");
    fs::create_directories(in / "sub" / "deep");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "sub" / "deep" / "chelsea.jpg");
    fs::create_directory_symlink(victim, out / "sub" / "deep");
    fs::remove(out / "other");
    std::ofstream(out / "other") << "a file";
    const auto result = run_strata({"batch", in.string(), out.string(), "-r", "-f", "invert", "--overwrite"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "output folder 'sub/deep' is a symbolic link"));
    CHECK(contains(result.err, "output folder 'other' is a file, not a folder"));
    CHECK(fs::exists(out / "sub" / "astronaut.jpg"));
    CHECK(snapshot(victim) == victim_before);
}

TEST_CASE("Cli.Containment.a report or an output folder where the inputs are is refused before any work") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in / "nested");
    fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / "chelsea.jpg");
    fs::copy_file(testdata() / "photos" / "camera.png", in / "nested" / "camera.png");
    const auto before = snapshot(in);
    const fs::path out = folder.path / "out";

    // The report over an input, inside an input folder, or over an output.
    auto result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "--json", (in / "chelsea.jpg").string()});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, (in / "chelsea.jpg").string() + " is one of the inputs"));
    result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "-r", "--json",
                         (in / "nested" / "report.json").string()});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "is inside the input folder"));
    result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "--json", (out / "chelsea.jpg").string()});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "is one of the outputs"));
    // Inputs given as files: the output folder may not be theirs.
    result = run_strata({"batch", (in / "chelsea.jpg").string(), in.string(), "-f", "invert", "--format", "png"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "is the folder of the input"));
    result = run_strata({"batch", (in / "nested" / "camera.png").string(), (in / "nested" / ".").string(), "-f",
                         "invert", "--format", "jpeg"});
    CHECK(result.exit_code == 2);
    CHECK(snapshot(in) == before);
    CHECK_FALSE(fs::exists(out));

    // A report beside the outputs is fine.
    result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "--json", (out / "report.json").string()});
    CHECK(result.exit_code == 0);
    CHECK(fs::exists(out / "report.json"));
    CHECK(snapshot(in) == before);
}

TEST_CASE("Cli.Containment.two runs into one folder: each output is written once, by one run, never replaced") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in);
    constexpr int count = 48;
    for (int i = 0; i < count; ++i) fs::copy_file(testdata() / "photos" / "chelsea.jpg", in / fmt::format("{:02}.jpg", i));
    const fs::path out = folder.path / "out";
    const auto command = [&](const char* chain, const fs::path& report) {
        return std::vector<std::string>{"batch", in.string(), out.string(), "-f", chain, "--format", "png", "-w", "1",
                                        "--json", report.string()};
    };
    const fs::path report_a = folder.path / "a.json";
    const fs::path report_b = folder.path / "b.json";
    auto a = std::async(std::launch::async, [&] { return run_strata(command("invert", report_a)); });
    auto b = std::async(std::launch::async, [&] { return run_strata(command("grayscale", report_b)); });
    CHECK(a.get().exit_code == 0);
    CHECK(b.get().exit_code == 0);

    const fs::path reference = folder.path / "reference";
    REQUIRE(run_strata({"apply", (in / "00.jpg").string(), (reference.string() + "-invert.png"), "-f", "invert"}).exit_code == 0);
    REQUIRE(run_strata({"apply", (in / "00.jpg").string(), (reference.string() + "-grayscale.png"), "-f", "grayscale"}).exit_code == 0);
    const auto json_a = nlohmann::json::parse(std::ifstream(report_a));
    const auto json_b = nlohmann::json::parse(std::ifstream(report_b));
    std::map<std::string, std::string> status_a;
    std::map<std::string, std::string> status_b;
    for (const auto& file : json_a["files"]) status_a[file["output"].get<std::string>()] = file["status"];
    for (const auto& file : json_b["files"]) status_b[file["output"].get<std::string>()] = file["status"];
    int overlapped = 0;
    for (int i = 0; i < count; ++i) {
        const std::string output = (out / fmt::format("{:02}.png", i)).string();
        CAPTURE(output);
        const bool by_a = status_a[output] == "converted";
        const bool by_b = status_b[output] == "converted";
        CHECK(by_a != by_b);  // exactly one run wrote it
        CHECK(status_a[output] != "failed");
        CHECK(status_b[output] != "failed");
        const std::string chain = by_a ? "invert" : "grayscale";
        CHECK(same_pixels(output, reference.string() + "-" + chain + ".png"));  // and its pixels are that run's
        overlapped += (by_a ? status_b[output] : status_a[output]) == "skipped";
    }
    CHECK(overlapped == count);
    CHECK(files_in(out) == count + 0u);
    CHECK(no_temporaries(out));
}

TEST_CASE("Cli.Containment.untrusted loaders are blocked; a file whose content is not what its name says is read only by a trusted loader") {
    temp_folder folder;
    const fs::path in = folder.path / "in";
    fs::create_directories(in);
    // An SVG named .jpg whose first kilobyte hides what it is, asking for a
    // local file: only ImageMagick's sniffer would take it.
    const fs::path secret = testdata() / "photos" / "chelsea.jpg";
    const std::string svg_body = "<svg width=\"64\" height=\"48\" xmlns=\"http://www.w3.org/2000/svg\" "
                                 "xmlns:xlink=\"http://www.w3.org/1999/xlink\"><image width=\"64\" height=\"48\" "
                                 "xlink:href=\"" + secret.string() + "\"/></svg>\n";
    std::ofstream(in / "x.jpg") << "<?xml version=\"1.0\"?>\n<!--" << std::string(1100, 'A') << "-->\n" << svg_body;
    std::ofstream(in / "drawing.svg") << svg_body;
    fs::copy_file(testdata() / "photos" / "camera.png", in / "disguised.jpg");
    const fs::path out = folder.path / "out";
    const fs::path report = folder.path / "report.json";

    auto result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "--format", "png", "--json",
                              report.string()});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "failed: " + (in / "x.jpg").string() + ": not an image strata reads: its content is not JPEG"));
    CHECK(contains(result.err, "failed: " + (in / "drawing.svg").string() +
                                   ": SVG files are read by svgload, which libvips marks unsafe for untrusted input"));
    CHECK(contains(result.err, "--allow-loader svgload"));
    CHECK_FALSE(fs::exists(out / "x.png"));
    CHECK_FALSE(fs::exists(out / "drawing.png"));
    // The PNG named .jpg is read by the PNG loader, and the report says so.
    CHECK(fs::exists(out / "disguised.png"));
    const auto json = nlohmann::json::parse(std::ifstream(report));
    for (const auto& file : json["files"]) {
        if (file["input"] == (in / "disguised.jpg").string()) {
            CHECK(file["loader"] == "pngload");
            CHECK(file["note"] == "content is PNG (pngload); the name says .jpg");
        }
    }

    // Asked for by name, an untrusted loader reads files named for it only.
    result = run_strata({"batch", in.string(), (folder.path / "allowed").string(), "-f", "invert", "--format", "png",
                         "--allow-loader", "svgload", "--allow-loader", "magickload"});
    CHECK(result.exit_code == 1);
    CHECK(fs::exists(folder.path / "allowed" / "drawing.png"));
    CHECK_FALSE(fs::exists(folder.path / "allowed" / "x.png"));
    result = run_strata({"batch", in.string(), out.string(), "-f", "invert", "--allow-loader", "nosuchload"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "'nosuchload' is not a libvips loader; the ones strata blocks: "));
    CHECK(contains(result.err, "magickload"));
    result = run_strata({"info", (in / "disguised.jpg").string()});
    CHECK(contains(result.out, "pngload (not what the file name says)"));
}
