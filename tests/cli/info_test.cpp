// Cli.Info: `strata info` on the bundled photographs and broken files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/paths.hpp"
#include "support/temp_folder.hpp"
#include "support/subprocess.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::temp_folder;
using strata::test::contains;
using strata::test::run_strata;
using strata::test::testdata;

}  // namespace

TEST_CASE("Cli.Info.describes each photograph of a folder, sorted, and exits 0") {
    const auto result = run_strata({"info", (testdata() / "photos").string()});
    CHECK(result.exit_code == 0);
    CHECK(result.err.empty());
    const auto photos = (testdata() / "photos").string();
    CHECK(contains(result.out, photos + "/astronaut.jpg: 512x512, 3 bands, 8-bit, srgb, jpegload"));
    CHECK(contains(result.out, photos + "/camera.png: 512x512, 1 band, 8-bit, b-w, pngload"));
    CHECK(contains(result.out, photos + "/coffee-rgba.png: 200x133, 4 bands, 8-bit, srgb with alpha, pngload"));
    CHECK(contains(result.out, photos + "/rocket-16bit.png: 160x107, 3 bands, 16-bit, rgb16, profile 'Adobe RGB (1998)', pngload"));
    CHECK(result.out.find("astronaut.jpg") < result.out.find("camera.png"));
    CHECK(contains(result.out, "6 images decoded, 0 failed"));
}

TEST_CASE("Cli.Info.reports each broken file by name and reason, goes on, exits 1") {
    const auto broken = testdata() / "broken";
    const auto photo = testdata() / "photos" / "chelsea.jpg";
    const auto result = run_strata({"info", (broken / "empty.jpg").string(),
                             (broken / "not-an-image.png").string(), photo.string(),
                             (broken / "truncated.jpg").string()});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, (broken / "empty.jpg").string() + ": empty file (0 bytes)"));
    CHECK(contains(result.err, (broken / "not-an-image.png").string() + ": not an image"));
    CHECK(contains(result.err, (broken / "truncated.jpg").string() + ": premature end of input file"));
    CHECK(contains(result.out, photo.string() + ": 451x300"));
    CHECK(contains(result.out, "1 image decoded, 3 failed"));
}

TEST_CASE("Cli.Info.writes a complete JSON report") {
    temp_folder folder;
    const auto report_path = folder.path / "report.json";
    const auto result = run_strata({"info", (testdata() / "photos").string(),
                             (testdata() / "broken" / "empty.jpg").string(), "--json", report_path.string()});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.out, "report written to " + report_path.string()));

    std::ifstream file(report_path);
    const auto report = nlohmann::json::parse(file);
    REQUIRE(report.size() == 7);
    CHECK(report[0]["path"] == (testdata() / "photos" / "astronaut.jpg").string());
    CHECK(report[0]["status"] == "ok");
    CHECK(report[0]["width"] == 512);
    CHECK(report[5]["bits"] == 16);
    CHECK(report[6]["status"] == "failed");
    CHECK(report[6]["error"] == "empty file (0 bytes)");
    // Only the report itself: no temporary file left beside it.
    CHECK(folder.count() == 1);
}

TEST_CASE("Cli.Info.a report into a missing folder fails clearly and leaves nothing") {
    temp_folder folder;
    const auto report_path = folder.path / "missing" / "report.json";
    const auto result = run_strata({"info", (testdata() / "photos" / "camera.png").string(),
                             "--json", report_path.string()});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, (folder.path / "missing").string()));
    CHECK_FALSE(fs::exists(report_path));
}

TEST_CASE("Cli.Info.bad option values exit 2 naming the accepted values") {
    const auto photo = (testdata() / "photos" / "camera.png").string();
    auto result = run_strata({"info", "--fail-on", "sometimes", photo});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--fail-on: 'sometimes' is not one of none, truncated, error, warning"));

    result = run_strata({"info", "--max-pixels", "0", photo});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--max-pixels: 0 is out of range; accepted: 1 to"));
}
