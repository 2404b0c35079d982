// Cli.Apply / Cli.Filters: one image through a chain, the catalogue, and bad input.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "strata/strata.hpp"
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

TEST_CASE("Cli.Filters.every file in filters/ is listed, and each shows its parameters") {
    const auto listing = run_strata({"filters"});
    CHECK(listing.exit_code == 0);
    int files = 0;
    for (const auto& entry : fs::directory_iterator(strata::test::env_path("STRATA_SOURCE") / "filters")) {
        if (entry.path().extension() != ".cpp") continue;
        ++files;
        const std::string name = entry.path().stem().string();
        CAPTURE(name);
        const bool listed = contains(listing.out, "\n" + name + " ") || listing.out.starts_with(name + " ");
        CHECK(listed);
        const auto detail = run_strata({"filters", name});
        CHECK(detail.exit_code == 0);
        CHECK(contains(detail.out, "example: strata apply"));
    }
    CHECK(files >= 7);
    const auto unknown = run_strata({"filters", "gausblur"});
    CHECK(unknown.exit_code == 2);
    CHECK(contains(unknown.err, "did you mean gaussblur?"));
}

TEST_CASE("Cli.Apply.writes the filtered image, the same on every backend") {
    temp_folder folder;
    const auto input = (testdata() / "photos" / "coffee-rgba.png").string();
    for (const char* backend : {"processes", "threads", "serial"}) {
        const auto out = folder.path / (std::string(backend) + ".png");
        const auto result = run_strata({"apply", input, out.string(), "-f", "gaussblur=2,sharpen=amount=1.5,invert",
                                        "-b", backend, "-w", "2", "--strips", "5"});
        CHECK(result.exit_code == 0);
        CHECK(contains(result.out, out.string() + ": 200x133, 4 bands"));
    }
    const auto a = strata::read_image(folder.path / "processes.png");
    const auto b = strata::read_image(folder.path / "serial.png");
    CHECK(std::memcmp(a.pixels().data(), b.pixels().data(), a.layout().bytes()) == 0);
}

TEST_CASE("Cli.Apply.bad input: one clear line, the right exit code, no output left behind") {
    temp_folder folder;
    const auto photo = (testdata() / "photos" / "chelsea.jpg").string();
    const auto out = (folder.path / "out.jpg").string();

    auto result = run_strata({"apply", photo, out, "-f", "gaussblur=sigma=0"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "gaussblur: parameter 'sigma' 0 is out of range; accepted: a number from 0.1 to 100"));

    result = run_strata({"apply", (testdata() / "broken" / "truncated.jpg").string(), out, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "truncated.jpg: premature end of input file"));

    result = run_strata({"apply", (testdata() / "broken" / "not-an-image.png").string(), out, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "not an image"));

    result = run_strata({"apply", (folder.path / "missing.jpg").string(), out, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "missing.jpg: no such file"));

    result = run_strata({"apply", photo, (folder.path / "out.xyz").string(), "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "no image format for the extension '.xyz'"));

    result = run_strata({"apply", photo, out, "-f", "invert", "-O", "Q=0"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "format option 'Q=0': '0' is not accepted; accepted: a whole number from 1 to 100"));

    result = run_strata({"apply", photo, out, "-f", "invert", "--max-pixels", "1000"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "over the limit of 1000"));

    CHECK(folder.count() == 0);

    result = run_strata({"apply", photo, photo, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "the output is the input"));
}
