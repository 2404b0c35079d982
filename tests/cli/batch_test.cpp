// Cli.Batch: folders through a chain, the report, resuming, and refusals.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "strata/strata.hpp"
#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::contains;
using strata::test::run_strata;
using strata::test::temp_folder;
using strata::test::testdata;

// No hidden temporary file anywhere under `folder`.
bool no_temporaries(const fs::path& folder) {
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (entry.path().filename().string().find(".strata-") != std::string::npos) return false;
    }
    return true;
}

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
