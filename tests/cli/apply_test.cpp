// Cli.Apply / Cli.Filters: one image through a chain, the catalogue, and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/strata.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/skip.hpp"
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

TEST_CASE("Cli.Apply.decompression bombs are refused before decoding: by the pixel limit and by the memory limit") {
    temp_folder folder;
    // WebP output: the image is held whole (nothing streams into it).
    const auto out = (folder.path / "out.webp").string();
    const auto huge = (testdata() / "broken" / "bomb-10gpixels.png").string();    // 661 bytes
    const auto large = (testdata() / "broken" / "bomb-16k-rgb16.png").string();  // 266 bytes

    auto result = run_strata({"apply", huge, out, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb-10gpixels.png: 100000x100000 is 10000000000 pixels, over the limit of 268402689"));
    // Streamed (PNG to PNG), an image costs time, not memory: no pixel limit
    // unless one is given. Decoding starts, and finds the file short.
    const auto streamed_out = (folder.path / "out.png").string();
    result = run_strata({"apply", huge, streamed_out, "-f", "invert"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb-10gpixels.png: libpng read error"));
    result = run_strata({"apply", huge, streamed_out, "-f", "invert", "--max-pixels", "268402689"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb-10gpixels.png: 100000x100000 is 10000000000 pixels, over the limit of 268402689"));
    CHECK_FALSE(fs::exists(streamed_out));

    // Under the pixel limit, but 1.4 GiB once decoded.
    result = run_strata({"apply", large, out, "-f", "invert", "--max-memory", "256M"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb-16k-rgb16.png: 16000x16000 with 3 bands decodes to 1.4 GiB, over the memory "
                               "limit of 256.0 MiB"));
    result = run_strata({"apply", large, out, "-f", "invert", "--max-memory", "1G"});
    CHECK(contains(result.err, "over the memory limit of 1.0 GiB"));
    // A limit it fits in lets decoding start, which finds the file short.
    result = run_strata({"apply", large, out, "-f", "invert", "--max-memory", "2G"});
    CHECK(result.exit_code == 1);
    CHECK_FALSE(contains(result.err, "memory limit"));

    for (const char* bad : {"12X", "-1", "G", "1.5G", "99999999999T"}) {
        CAPTURE(bad);
        result = run_strata({"apply", large, out, "-f", "invert", "--max-memory", bad});
        CHECK(result.exit_code == 2);
        CHECK(contains(result.err, "--max-memory: '" + std::string(bad) + "' is not a size such as 512M, 2G, 0 or auto"));
    }
    CHECK(folder.count() == 0);

    // info and batch take the same limits; the batch goes on with the rest.
    result = run_strata({"info", large, "--max-memory", "100M"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "over the memory limit of 100.0 MiB"));
    const auto in = folder.path / "in";
    std::filesystem::create_directories(in);
    std::filesystem::copy_file(large, in / "bomb.png");
    std::filesystem::copy_file(testdata() / "photos" / "camera.png", in / "camera.png");
    result = run_strata({"batch", in.string(), (folder.path / "batch-out").string(), "-f", "invert", "--max-memory",
                         "64M", "--format", "webp"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "bomb.png: 16000x16000 with 3 bands decodes to 1.4 GiB, over the memory limit of 64.0 MiB"));
    CHECK(std::filesystem::exists(folder.path / "batch-out" / "camera.webp"));
    CHECK_FALSE(std::filesystem::exists(folder.path / "batch-out" / "bomb.webp"));
}

TEST_CASE("Cli.Apply.a conversion of over a second shows its progress on a terminal, one line that fits") {
    const std::string script = "/usr/bin/script";  // util-linux
    if (!fs::exists(script)) {
        strata::test::skip("no script(1) to give strata a terminal");
        return;
    }
    temp_folder folder;
    strata::test::make_photos(folder.path, "astronaut.jpg", 6, 1);  // 3072x3072
    const fs::path input = folder.path / "photo-01.jpg";
    const std::string strata = strata::test::env_path("STRATA_EXE").string();
    // A terminal 50 columns wide, as a split pane; a blur slow enough to take seconds on one core.
    const auto on_terminal = [&](const std::string& output, const std::string& extra) {
        return strata::test::run({script, "-qec",
                                  "stty cols 50; '" + strata + "' apply '" + input.string() + "' '" +
                                      (folder.path / output).string() + "' -f gaussblur=sigma=40 -b serial" + extra,
                                  "/dev/null"});
    };
    const auto shown = on_terminal("out.jpg", "");
    REQUIRE(shown.exit_code == 0);
    CHECK(contains(shown.out, "MB/s"));
    CHECK(contains(shown.out, "%"));
    CHECK(contains(shown.out, "ETA"));
    // Every redraw fits in 49 columns (it never wraps), and the line is
    // cleared before the summary.
    std::vector<std::string> pieces;
    std::string piece;
    for (const char c : shown.out) {
        if (c == '\r' || c == '\n') {
            pieces.push_back(piece);
            piece.clear();
        } else {
            piece += c;
        }
    }
    int redraws = 0;
    for (auto text : pieces) {
        for (std::size_t at; (at = text.find("\x1b[K")) != std::string::npos;) text.erase(at, 3);
        CAPTURE(text);
        if (contains(text, "MB/s")) {
            ++redraws;
            CHECK(text.size() <= 49);
        }
    }
    CHECK(redraws >= 1);
    CHECK(contains(shown.out, "\r\x1b[K" + (folder.path / "out.jpg").string() + ": 3072x3072"));

    // --quiet: nothing but failures; and not on a terminal, no progress.
    const auto quiet = on_terminal("quiet.jpg", " --quiet");
    CHECK(quiet.exit_code == 0);
    CHECK_FALSE(contains(quiet.out, "MB/s"));
    CHECK_FALSE(contains(quiet.out, "3072x3072"));
    const auto piped = run_strata({"apply", input.string(), (folder.path / "piped.jpg").string(), "-f",
                                   "gaussblur=sigma=40", "-b", "serial"});
    CHECK(piped.exit_code == 0);
    CHECK_FALSE(contains(piped.err, "MB/s"));
}
