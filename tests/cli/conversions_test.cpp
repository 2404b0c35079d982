// Cli.Conversions: the everyday jobs: conversion without a filter, the
// orientation tag of what strata writes (read back by exiftool, not
// libvips), thumbnails, shrink-on-load and the limits of every stage.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "strata/filter.hpp"
#include "strata/strata.hpp"
#include "support/files.hpp"
#include "support/paths.hpp"
#include "support/skip.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::contains;
using strata::test::run_strata;
using strata::test::temp_folder;
using strata::test::testdata;

fs::path photo(const char* name) { return testdata() / "photos" / name; }

// The full path of program `name` on PATH, or empty.
std::string program(const char* name) {
    const char* path = std::getenv("PATH");
    std::string_view folders = path != nullptr ? path : "/usr/bin:/bin";
    while (!folders.empty()) {
        const auto colon = folders.find(':');
        const fs::path candidate = fs::path(folders.substr(0, colon)) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        folders = colon == std::string_view::npos ? std::string_view{} : folders.substr(colon + 1);
    }
    return {};
}

// What exiftool (a reader that is not libvips) says of `tag` in `file`, as a
// number; empty when the file has no such tag.
std::string exif_tag(const fs::path& file, const char* tag) {
    const auto result = strata::test::run({program("exiftool"), "-n", "-s3", std::string("-") + tag, file.string()});
    std::string value = result.out;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    return value;
}


// The vips command (libvips' own tool, to make inputs with) and a folder to
// work in. Not ready (the test reported skipped) without the command.
struct vips_scene {
    std::string vips = program("vips");
    temp_folder folder;

    bool ready() const {
        if (vips.empty()) strata::test::skip("the vips command is not installed (Debian: libvips-tools)");
        return !vips.empty();
    }
    std::string at(const std::string& name) const { return (folder.path / name).string(); }
    void run(std::vector<std::string> args) const {
        args.insert(args.begin(), vips);
        REQUIRE(strata::test::run(args).exit_code == 0);
    }
};

bool same_pixels(const strata::image& a, const strata::image& b) {
    return a.layout() == b.layout() && std::memcmp(a.pixels().data(), b.pixels().data(), a.layout().bytes()) == 0;
}

}  // namespace

TEST_CASE("Cli.Conversions.an image turned upright is written with orientation 1 in every format (read by exiftool)") {
    if (program("exiftool").empty()) {
        strata::test::skip("exiftool is not installed (Debian: libimage-exiftool-perl)");
        return;
    }
    temp_folder folder;
    const auto input = photo("chelsea-orientation6.jpg");
    REQUIRE(exif_tag(input, "Orientation") == "6");
    for (const char* extension : {"jpg", "png", "webp", "tif", "avif"}) {
        CAPTURE(extension);
        const auto turned = folder.path / (std::string("turned.") + extension);
        const auto result = run_strata({"apply", input.string(), turned.string(), "-f", "invert"});
        REQUIRE(result.exit_code == 0);
        CHECK(exif_tag(turned, "ImageSize") == "226 150");
        const std::string orientation = exif_tag(turned, "Orientation");
        CHECK((orientation == "1" || orientation.empty()));

        // --keep-orientation: pixels as stored, and the tag that says how to turn them.
        const auto kept = folder.path / (std::string("kept.") + extension);
        REQUIRE(run_strata({"apply", input.string(), kept.string(), "-f", "invert", "--keep-orientation"}).exit_code == 0);
        CHECK(exif_tag(kept, "ImageSize") == "150 226");
        CHECK(exif_tag(kept, "Orientation") == "6");
    }
    // No chain and a geometry chain take the other paths through the decoder.
    for (const char* chain : {"", "thumbnail=100"}) {
        CAPTURE(chain);
        const auto out = folder.path / "other.jpg";
        REQUIRE(run_strata({"apply", input.string(), out.string(), "-f", chain}).exit_code == 0);
        const std::string orientation = exif_tag(out, "Orientation");
        CHECK((orientation == "1" || orientation.empty()));
    }
}

TEST_CASE("Cli.Conversions.without a chain, apply and batch decode and encode only") {
    temp_folder folder;
    // Lossless output: the pixels are the input's own.
    const auto png = folder.path / "astronaut.png";
    const auto result = run_strata({"apply", photo("astronaut.jpg").string(), png.string()});
    REQUIRE(result.exit_code == 0);
    CHECK(contains(result.out, "512x512, 3 bands"));
    CHECK(same_pixels(strata::read_image(png), strata::read_image(photo("astronaut.jpg"))));

    const auto out = folder.path / "webp";
    const auto batch = run_strata({"batch", (testdata() / "photos").string(), out.string(), "--format", "webp", "-q", "80",
                                   "--json", (folder.path / "report.json").string()});
    CHECK(batch.exit_code == 0);
    CHECK(contains(batch.out, "converted 6, skipped 0, failed 0"));
    for (const auto& entry : fs::directory_iterator(testdata() / "photos")) {
        const auto written = out / (entry.path().stem().string() + ".webp");
        CAPTURE(written);
        REQUIRE(fs::exists(written));
        const auto source = strata::read_image(entry.path());
        const auto converted = strata::read_image(written);
        CHECK(converted.width() == source.width());
        CHECK(converted.height() == source.height());
    }
}

namespace {

// A JPEG of `width` x `height` made from a bundled photograph (stretched).
fs::path make_jpeg(const fs::path& folder, int width, int height, const char* source = "chelsea.jpg") {
    const auto path = folder / fmt::format("in-{}x{}.jpg", width, height);
    const auto stretched = strata::run_chain(strata::parse_chain(fmt::format("resize={}x{}!:upscale=1", width, height)),
                                             strata::read_image(photo(source)), {.where = strata::backend::serial});
    strata::write_image(stretched, path, {.quality = 92});
    return path;
}

std::string size_of(const fs::path& file) {
    const auto picture = strata::read_image(file, {.max_pixels = 1'000'000'000});
    return fmt::format("{}x{}", picture.width(), picture.height());
}

}  // namespace

TEST_CASE("Cli.Conversions.thumbnail sizes are vipsthumbnail's, shrink-on-load or not") {
    if (program("vipsthumbnail").empty()) {
        strata::test::skip("vipsthumbnail is not installed (Debian: libvips-tools)");
        return;
    }
    temp_folder folder;
    std::vector<fs::path> inputs;
    // JPEGs big enough for every shrink-on-load factor, odd sizes, extremes;
    // and a PNG (never shrunk on load).
    for (const auto& [w, h] : std::vector<std::pair<int, int>>{{4104, 2730}, {2731, 4097}, {3001, 1999}, {1000, 10}, {640, 427}}) {
        inputs.push_back(make_jpeg(folder.path, w, h));
    }
    inputs.push_back(photo("coffee-rgba.png"));
    // vipsthumbnail -s SIZE against thumbnail=SIZE; vipsthumbnail enlarges
    // by default, strata only with upscale=1 (so vipsthumbnail gets "SIZE>"
    // otherwise, its only-shrink size).
    const std::vector<std::pair<std::string, std::string>> cases{
        {"256", "thumbnail=256"},         {"200x100", "thumbnail=200x100"},
        {"300x", "thumbnail=300x"},       {"x90", "thumbnail=x90"},
        {"1000", "thumbnail=1000:upscale=1"}, {"123x77", "thumbnail=123x77:crop=centre"},
        {"64", "thumbnail=64:crop=attention"}};
    for (const auto& input : inputs) {
        for (const auto& [size, chain] : cases) {
            CAPTURE(input);
            CAPTURE(chain);
            const auto theirs = folder.path / "vips.png";
            const bool enlarges = chain.find("upscale=1") != std::string::npos;
            std::vector<std::string> argv{program("vipsthumbnail"), input.string(), "-s", enlarges ? size : size + ">",
                                          "-o", theirs.string()};
            if (chain.find("crop=") != std::string::npos) {
                argv.insert(argv.end(), {"--smartcrop", chain.find("attention") != std::string::npos ? "attention" : "centre"});
            }
            REQUIRE(strata::test::run(argv).exit_code == 0);
            for (const char* shrink : {"", "--no-shrink-on-load"}) {
                const auto ours = folder.path / "strata.png";
                std::vector<std::string> args{"apply", input.string(), ours.string(), "-f", chain, "--max-pixels", "1000000000"};
                if (*shrink != '\0') args.emplace_back(shrink);
                const auto result = run_strata(args);
                REQUIRE(result.exit_code == 0);
                // With shrink-on-load strata sizes from the same reduced
                // decode vipsthumbnail uses, so the sizes agree exactly;
                // without it, rounding from the full size may differ by one.
                if (*shrink == '\0') CHECK(size_of(ours) == size_of(theirs));
            }
        }
    }
}

TEST_CASE("Cli.Conversions.shrink-on-load decodes JPEG smaller, leaves a factor 2, and keeps the strip invariant") {
    temp_folder folder;
    const auto input = make_jpeg(folder.path, 4104, 2730);
    // 4104 -> 256 is a factor 16: libjpeg decodes at 1/8.
    auto done = strata::convert_file(input, folder.path / "a.png", strata::parse_chain("thumbnail=256"), {}, {},
                                     {.where = strata::backend::serial});
    CHECK(done.load_shrink == doctest::Approx(8).epsilon(0.01));
    CHECK(done.layout.width == 256);
    // A factor 10 leaves 1/4 to the decoder, 2.5 to the area average.
    done = strata::convert_file(input, folder.path / "b.png", strata::parse_chain("resize=10%"), {}, {},
                                {.where = strata::backend::serial});
    CHECK(done.load_shrink == doctest::Approx(4).epsilon(0.01));
    CHECK(done.layout.width == 410);  // 10% of the stored size, not of the reduced decode
    CHECK(done.layout.height == 273);
    // A factor under 4: full size; so is --no-shrink-on-load.
    done = strata::convert_file(input, folder.path / "c.png", strata::parse_chain("thumbnail=2000"), {}, {},
                                {.where = strata::backend::serial});
    CHECK(done.load_shrink == 1);
    done = strata::convert_file(input, folder.path / "d.png", strata::parse_chain("thumbnail=256"),
                                {.shrink_on_load = false}, {}, {.where = strata::backend::serial});
    CHECK(done.load_shrink == 1);
    CHECK(done.layout.width == 256);

    // The same pixels on every backend and strip count, the chain going on
    // after the thumbnail.
    const std::string chain = "thumbnail=300x200,gaussblur=2,sharpen";
    fs::path first;
    for (const char* backend : {"processes", "threads", "serial"}) {
        for (const char* strips : {"1", "3", "7"}) {
            const auto out = folder.path / fmt::format("{}-{}.png", backend, strips);
            REQUIRE(run_strata({"apply", input.string(), out.string(), "-f", chain, "-b", backend, "-w", "2", "--strips",
                                strips}).exit_code == 0);
            if (first.empty()) {
                first = out;
                continue;
            }
            CAPTURE(out);
            CHECK(same_pixels(strata::read_image(out), strata::read_image(first)));
        }
    }
}

TEST_CASE("Cli.Conversions.a thumbnail is as close to an exact area average as vipsthumbnail's") {
    if (program("vipsthumbnail").empty()) {
        strata::test::skip("vipsthumbnail is not installed (Debian: libvips-tools)");
        return;
    }
    temp_folder folder;
    const auto input = make_jpeg(folder.path, 4104, 2730, "astronaut.jpg");
    const auto ours = folder.path / "strata.png";
    const auto theirs = folder.path / "vips.png";
    REQUIRE(run_strata({"apply", input.string(), ours.string(), "-f", "thumbnail=256"}).exit_code == 0);
    REQUIRE(strata::test::run({program("vipsthumbnail"), input.string(), "-s", "256", "-o", theirs.string()}).exit_code == 0);
    const auto full = strata::read_image(input);
    const auto mine = strata::read_image(ours);
    const auto vips = strata::read_image(theirs);
    cv::Mat exact;
    cv::resize(strata::as_mat(full), exact, cv::Size(mine.width(), mine.height()), 0, 0, cv::INTER_AREA);
    const double strata_psnr = cv::PSNR(exact, strata::as_mat(mine));
    const double vips_psnr = cv::PSNR(exact, strata::as_mat(vips));
    MESSAGE("PSNR against INTER_AREA on the full decode: strata " << strata_psnr << " dB, vipsthumbnail " << vips_psnr << " dB");
    CHECK(strata_psnr >= vips_psnr - 0.5);
}

TEST_CASE("Cli.Conversions.sizes as users type them, and what is refused") {
    temp_folder folder;
    const auto input = make_jpeg(folder.path, 640, 427);
    const auto out = folder.path / "out.png";
    const std::vector<std::pair<std::string, std::string>> sizes{
        {"thumbnail=256", "256x171"},          {"thumbnail=200x100", "150x100"}, {"thumbnail=200x100^", "200x133"},
        {"thumbnail=200x100!", "200x100"},     {"thumbnail=50%", "320x214"},     {"thumbnail=1000", "640x427"},
        {"thumbnail=1000:upscale=1", "1000x667"}, {"thumbnail=200x100:crop=centre", "200x100"},
        {"resize=200x100", "150x100"},         {"resize=200x100!", "200x100"},   {"resize=200x100^", "200x133"},
        {"resize=50%", "320x214"},             {"resize=0.5", "320x214"},        {"resize=width=1280", "1280x854"},
        {"resize=1280x>", "640x427"},          {"resize=width=512:height=512", "512x512"},
        {"thumbnail=200x100:fit=outside", "200x133"}, {"thumbnail=200%:upscale=1", "1280x854"}};
    for (const auto& [chain, size] : sizes) {
        CAPTURE(chain);
        const auto result = run_strata({"apply", input.string(), out.string(), "-f", chain});
        REQUIRE(result.exit_code == 0);
        CHECK(size_of(out) == size);
    }
    fs::remove(out);
    const std::vector<std::pair<std::string, std::string>> refused{
        {"thumbnail", "thumbnail: give a size"},
        {"thumbnail=12y4", "thumbnail: '12y4' is not a size; accepted: 256, 512x384"},
        {"thumbnail=200x100<", "'<' (only enlarge) is not supported"},
        {"thumbnail=x", "gives neither width nor height"},
        {"resize=0x0", "gives neither width nor height"},
        {"resize=0x", "gives neither width nor height"},
        {"thumbnail=200x100^!", "asks for two fits"},
        {"thumbnail=50%:crop=centre", "crop needs a box"},
        {"thumbnail=256:width=300", "parameter 'width' given twice"},
        {"resize=256", "parameter 'scale' 256 is out of range"},
        {"resize=12y4", "accepted: 512x384, 512x or x384"},
        {"thumbnail=200%", "a scale of 2 enlarges, and thumbnail never enlarges unless upscale=1"}};
    for (const auto& [chain, message] : refused) {
        CAPTURE(chain);
        const auto result = run_strata({"apply", input.string(), out.string(), "-f", chain});
        CHECK(result.exit_code == 2);
        CHECK(contains(result.err, message));
    }
    CHECK_FALSE(fs::exists(out));
}

TEST_CASE("Cli.Conversions.limits cover every step of the chain, before decoding") {
    temp_folder folder;
    const auto out = folder.path / "out.png";
    const auto input = photo("astronaut.jpg").string();
    auto result = run_strata({"apply", input, out.string(), "-f", "resize=scale=100"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "astronaut.jpg: step 1 of the chain (resize) would make 51200x51200, 2621440000 pixels, "
                               "over the limit of 268402689 (--max-pixels); nothing was decoded"));
    result = run_strata({"apply", input, out.string(), "-f", "resize=height=1000000"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "step 1 of the chain (resize) would make 1000000x1000000"));
    CHECK_FALSE(contains(result.err, "OpenCV"));
    // A later step, and the memory limit.
    result = run_strata({"apply", input, out.string(), "-f", "invert,resize=scale=20,gaussblur", "--max-memory", "64M"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "step 2 of the chain (resize) would make 10240x10240 with 3 bands, 300.0 MiB, over the "
                               "memory limit of 64.0 MiB (--max-memory"));
    CHECK_FALSE(fs::exists(out));
    // A file of an untrusted loader, read in a worker of its own: the same.
    const auto vips_file = folder.path / "astronaut.v";
    REQUIRE(run_strata({"apply", input, vips_file.string()}).exit_code == 0);
    result = run_strata({"apply", vips_file.string(), out.string(), "-f", "resize=scale=100", "--allow-loader", "vipsload"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "astronaut.v: step 1 of the chain (resize) would make 51200x51200"));
    CHECK_FALSE(fs::exists(out));
    // A thumbnail of an image over the pixel limit is read at reduced size,
    // and the limit applies to what is decoded.
    const auto big = make_jpeg(folder.path, 4104, 2730);
    result = run_strata({"apply", big.string(), out.string(), "-f", "thumbnail=256", "--max-pixels", "1000000"});
    CHECK(result.exit_code == 0);
    result = run_strata({"apply", big.string(), out.string(), "-f", "thumbnail=256", "--max-pixels", "1000000",
                         "--no-shrink-on-load"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "over the limit of 1000000"));

    // Sizes past what an int holds are refused too, not wrapped round.
    const auto thin = folder.path / "thin.png";
    REQUIRE(run_strata({"apply", input, thin.string(), "-f", "resize=1x10000!:upscale=1", "--max-pixels", "300000"})
                .exit_code == 0);
    result = run_strata({"apply", thin.string(), out.string(), "-f", "resize=width=1000000"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "step 1 of the chain (resize) would make 1000000x2147483647"));
    // An attention crop of a strip one pixel high.
    result = run_strata({"apply", thin.string(), out.string(), "-f", "resize=10000x4!,thumbnail=100x1:crop=attention",
                         "--max-pixels", "100000"});
    CHECK(result.exit_code == 0);
    CHECK(size_of(out) == "100x1");
    fs::remove(out);

    // In a batch it is that file's failure; the others are converted.
    const auto in = folder.path / "in";
    fs::create_directories(in);
    fs::copy_file(photo("astronaut.jpg"), in / "big.jpg");
    fs::copy_file(photo("chelsea.jpg"), in / "small.jpg");
    result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-f", "resize=scale=10",
                         "--max-pixels", "20000000"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "big.jpg: step 1 of the chain (resize) would make 5120x5120"));
    CHECK(fs::exists(folder.path / "out" / "small.jpg"));
    CHECK_FALSE(fs::exists(folder.path / "out" / "big.jpg"));
}

TEST_CASE("Cli.Conversions.hidden files and folders are left out of a batch unless --hidden") {
    temp_folder folder;
    const auto in = folder.path / "in";
    fs::create_directories(in / ".cache");
    fs::create_directories(in / "sub");
    for (const auto& name : {"a.jpg", ".b.jpg", "._a.jpg", ".cache/c.jpg", "sub/d.jpg", "sub/.e.jpg"}) {
        fs::copy_file(photo("chelsea.jpg"), in / name);
    }
    auto result = run_strata({"batch", in.string(), (folder.path / "out").string(), "-r"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "converted 2, skipped 0, failed 0"));
    CHECK(fs::exists(folder.path / "out" / "a.jpg"));
    CHECK(fs::exists(folder.path / "out" / "sub" / "d.jpg"));
    result = run_strata({"batch", in.string(), (folder.path / "all").string(), "-r", "--hidden"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "converted 6, skipped 0, failed 0"));
    CHECK(fs::exists(folder.path / "all" / ".cache" / "c.jpg"));
    // A hidden file named on its own is read.
    result = run_strata({"batch", (in / ".b.jpg").string(), (folder.path / "one").string()});
    CHECK(contains(result.out, "converted 1"));
}

namespace {

// The largest difference between two images' samples (layouts must agree).
int largest_difference(const strata::image& a, const strata::image& b) {
    REQUIRE(a.layout() == b.layout());
    cv::Mat difference;
    cv::absdiff(strata::as_mat(a), strata::as_mat(b), difference);
    double most = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &most);
    return static_cast<int>(most);
}

}  // namespace

TEST_CASE("Cli.Conversions.colour: CMYK through its profile, other profiles to sRGB when asked or stripped") {
    const std::string vips = program("vips");
    if (vips.empty()) {
        strata::test::skip("the vips command is not installed (Debian: libvips-tools)");
        return;
    }
    temp_folder folder;
    const auto at = [&](const char* name) { return (folder.path / name).string(); };
    // A CMYK JPEG with an embedded profile, and the sRGB libvips makes of it.
    REQUIRE(strata::test::run({vips, "icc_transform", photo("astronaut.jpg").string(), at("cmyk.jpg"), "cmyk"}).exit_code == 0);
    REQUIRE(strata::test::run({vips, "icc_transform", at("cmyk.jpg"), at("cmyk-ref.png"), "srgb", "--embedded"}).exit_code == 0);
    REQUIRE(run_strata({"apply", at("cmyk.jpg"), at("cmyk-out.png")}).exit_code == 0);
    const auto cmyk_out = strata::read_image(at("cmyk-out.png"));
    CHECK(cmyk_out.bands() == 3);
    CHECK(largest_difference(cmyk_out, strata::read_image(at("cmyk-ref.png"))) <= 1);

    // Display P3: kept with its profile by default; converted by
    // --colourspace srgb and before --strip-metadata drops the profile.
    REQUIRE(strata::test::run({vips, "icc_transform", photo("astronaut.jpg").string(), at("p3.png"), "p3"}).exit_code == 0);
    REQUIRE(strata::test::run({vips, "icc_transform", at("p3.png"), at("p3-ref.png"), "srgb", "--embedded"}).exit_code == 0);
    REQUIRE(run_strata({"apply", at("p3.png"), at("kept.png")}).exit_code == 0);
    CHECK(largest_difference(strata::read_image(at("kept.png")), strata::read_image(at("p3.png"))) == 0);
    const auto p3_ref = strata::read_image(at("p3-ref.png"));
    CHECK(largest_difference(p3_ref, strata::read_image(at("p3.png"))) > 5);  // the conversion shows
    for (const char* flag : {"--colourspace=srgb", "--strip-metadata"}) {
        CAPTURE(flag);
        REQUIRE(run_strata({"apply", at("p3.png"), at("srgb.png"), flag}).exit_code == 0);
        CHECK(largest_difference(strata::read_image(at("srgb.png")), p3_ref) <= 1);
    }
    if (const std::string exiftool = program("exiftool"); !exiftool.empty()) {
        CHECK(contains(exif_tag(at("kept.png"), "ProfileDescription"), "P3"));
        REQUIRE(run_strata({"apply", at("p3.png"), at("tagged.png"), "--colourspace", "srgb"}).exit_code == 0);
        CHECK(contains(exif_tag(at("tagged.png"), "ProfileDescription"), "sRGB"));
        REQUIRE(run_strata({"apply", at("p3.png"), at("stripped.png"), "--strip-metadata"}).exit_code == 0);
        CHECK(exif_tag(at("stripped.png"), "ProfileDescription").empty());
    }

    // 16-bit stays 16-bit through the conversion.
    REQUIRE(strata::test::run({vips, "icc_transform", photo("rocket-16bit.png").string(), at("p3-16.png"), "p3", "--depth",
                               "16"}).exit_code == 0);
    REQUIRE(run_strata({"apply", at("p3-16.png"), at("srgb-16.png"), "--colourspace", "srgb"}).exit_code == 0);
    CHECK(strata::read_image(at("srgb-16.png")).type() == strata::sample_type::u16);

    // A profile of one's own must exist and be an RGB profile.
    auto result = run_strata({"apply", at("p3.png"), at("x.png"), "--profile", at("missing.icc")});
    CHECK(result.exit_code == 2);
    std::string header(132, '\0');
    header.replace(16, 4, "CMYK");
    header.replace(36, 4, "acsp");
    std::ofstream(at("cmyk.icc"), std::ios::binary) << header;
    result = run_strata({"apply", at("p3.png"), at("x.png"), "--profile", at("cmyk.icc")});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "is a profile for 'CMYK' colour, not RGB"));
    CHECK_FALSE(fs::exists(at("x.png")));
    // The colour space is named in any case.
    CHECK(run_strata({"apply", at("p3.png"), at("x.png"), "--colourspace", "sRGB"}).exit_code == 0);

    // A profile of one's own converts RGB; a grey image stays grey, and is said to.
    const std::string exiftool = program("exiftool");
    if (exiftool.empty()) {
        strata::test::skip("exiftool is not installed (Debian: libimage-exiftool-perl)");
        return;
    }
    const auto profile = strata::test::run({exiftool, "-b", "-icc_profile", at("p3.png")});
    REQUIRE(profile.exit_code == 0);
    std::ofstream(at("p3.icc"), std::ios::binary) << profile.out;
    result = run_strata({"apply", photo("astronaut.jpg").string(), at("to-p3.png"), "--profile", at("p3.icc")});
    CHECK(result.exit_code == 0);
    CHECK(largest_difference(strata::read_image(at("to-p3.png")), strata::read_image(at("p3.png"))) <= 2);
    result = run_strata({"apply", photo("camera.png").string(), at("grey.png"), "--profile", at("p3.icc")});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "camera.png: grey, so left grey (--profile converts RGB and CMYK images to p3.icc)"));
    CHECK(strata::read_image(at("grey.png")).bands() == 1);
}

TEST_CASE("Cli.Conversions.pages: every page of a GIF or TIFF through the chain on its own, or the one page asked for") {
    vips_scene scene;
    if (!scene.ready()) return;
    const auto at = [&](const std::string& name) { return scene.at(name); };
    const auto run_vips = [&](std::vector<std::string> args) { scene.run(std::move(args)); };
    // Three different 135x90 pages: a 3-page TIFF, and a GIF animation of them.
    run_vips({"resize", photo("chelsea.jpg").string(), at("a.png"), "0.3"});
    run_vips({"flip", at("a.png"), at("b.png"), "horizontal"});
    run_vips({"invert", at("a.png"), at("c.png")});
    run_vips({"arrayjoin", at("a.png") + " " + at("b.png") + " " + at("c.png"), at("roll.png"), "--across", "1"});
    run_vips({"tiffsave", at("roll.png"), at("three.tif"), "--page-height", "90"});
    run_vips({"copy", at("three.tif") + "[n=-1]", at("anim.gif")});

    auto result = run_strata({"info", at("three.tif"), at("anim.gif")});
    CHECK(contains(result.out, "three.tif: 135x90, 3 bands, 8-bit, srgb, 3 pages"));
    CHECK(contains(result.out, "3 pages, palette, gifload"));

    // TIFF to TIFF: three pages, each blurred alone (the rows of one page
    // never reach into the next), the same as converting that page alone.
    result = run_strata({"apply", at("three.tif"), at("out.tif"), "-f", "gaussblur=3"});
    REQUIRE(result.exit_code == 0);
    CHECK(contains(result.out, "135x90, 3 bands, 3 pages"));
    CHECK(strata::inspect(at("out.tif")).pages == 3);
    for (int page = 0; page < 3; ++page) {
        CAPTURE(page);
        const auto alone = at(fmt::format("alone-{}.png", page));
        REQUIRE(run_strata({"apply", at("three.tif"), alone, "-f", "gaussblur=3", "--page", std::to_string(page)})
                    .exit_code == 0);
        CHECK(same_pixels(strata::read_image(at("out.tif"), {.page = page}), strata::read_image(alone)));
    }

    // GIF to GIF: every frame through a geometry step; frames keep their delays.
    result = run_strata({"apply", at("anim.gif"), at("small.gif"), "-f", "thumbnail=60,invert"});
    REQUIRE(result.exit_code == 0);
    const auto small = strata::inspect(at("small.gif"));
    CHECK(small.pages == 3);
    CHECK(small.width == 60);
    CHECK(small.height == 40);

    // Into one page: the first, or --page N, said so; a page past the end is named.
    result = run_strata({"apply", at("anim.gif"), at("one.png")});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "anim.gif: 1 of 3 pages kept (.png holds one page; --page N picks another)"));
    result = run_strata({"apply", at("three.tif"), at("third.png"), "--page", "2"});
    CHECK(result.exit_code == 0);
    CHECK(same_pixels(strata::read_image(at("third.png")), strata::read_image(at("c.png"))));
    result = run_strata({"apply", at("anim.gif"), at("none.png"), "--page", "3"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "anim.gif: has 3 pages; --page takes 0 to 2"));
    CHECK_FALSE(fs::exists(at("none.png")));
    // A format without pages has one: --page 1 is past its end, not ignored.
    result = run_strata({"apply", at("a.png"), at("none.png"), "--page", "1"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "a.png: has 1 page; --page takes only 0"));
    CHECK_FALSE(fs::exists(at("none.png")));
    result = run_strata({"apply", at("anim.gif"), at("none.png"), "--page", "100001"});
    CHECK(result.exit_code == 2);
    CHECK_FALSE(fs::exists(at("none.png")));
    // From a page on, into a format that holds pages.
    result = run_strata({"apply", at("anim.gif"), at("last-two.gif"), "--page", "1"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "2 of 3 pages kept (from the page --page names on)"));
    CHECK(strata::inspect(at("last-two.gif")).pages == 2);

    // The report says pages in and out.
    result = run_strata({"batch", at("anim.gif"), at("three.tif"), at("out"), "--format", "webp", "-f", "thumbnail=50",
                         "--json", at("report.json")});
    CHECK(result.exit_code == 0);
    CHECK(strata::inspect(at("out/anim.webp")).pages == 3);
    const std::string report(strata::test::contents(at("report.json")).data(), strata::test::contents(at("report.json")).size());
    CHECK(contains(report, "\"pages_in\": 3"));
    CHECK(contains(report, "\"pages_out\": 3"));
}

TEST_CASE("Cli.Conversions.pages: a TIFF pyramid is one picture, shrunk from a level; pages of other sizes keep one") {
    vips_scene scene;
    if (!scene.ready()) return;
    const auto at = [&](const std::string& name) { return scene.at(name); };
    const auto run_vips = [&](std::vector<std::string> args) { scene.run(std::move(args)); };
    // 1804x1200, then 902x600, 451x300, 226x150, ... in one file.
    run_vips({"resize", photo("chelsea.jpg").string(), at("big.png"), "4"});
    run_vips({"copy", at("big.png"), at("pyramid.tif") + "[pyramid,tile,tile-width=64,tile-height=64]"});
    REQUIRE(strata::inspect(at("pyramid.tif")).pages > 3);

    // A thumbnail is made from the smallest level at least its size (226x150
    // for 200x133), as vipsthumbnail does; the report says how much smaller.
    auto result = run_strata({"batch", at("pyramid.tif"), at("out"), "--format", "png", "-f", "thumbnail=200", "--json",
                              at("report.json")});
    REQUIRE(result.exit_code == 0);
    const auto thumb = strata::inspect(at("out/pyramid.png"));
    CHECK(thumb.width == 200);
    CHECK(thumb.height == 133);
    CHECK_FALSE(contains(result.err, "pages kept"));
    const auto report = nlohmann::json::parse(std::ifstream(at("report.json")));
    CHECK(report["files"][0]["load_shrink"].get<double>() == doctest::Approx(1804.0 / 226).epsilon(0.01));
    CHECK(report["files"][0]["pages_in"] == 1);
    // The full-size decode gives a thumbnail of the same size and nearly the same pixels.
    result = run_strata({"apply", at("pyramid.tif"), at("full.png"), "-f", "thumbnail=200", "--no-shrink-on-load"});
    REQUIRE(result.exit_code == 0);
    const auto level = strata::read_image(at("out/pyramid.png"));
    const auto full = strata::read_image(at("full.png"));
    REQUIRE(level.layout() == full.layout());
    CHECK(cv::PSNR(cv::Mat(level.height(), level.width(), CV_8UC3, level.pixels().data()),
                   cv::Mat(full.height(), full.width(), CV_8UC3, full.pixels().data())) > 30);
    // A pyramid into a TIFF is that one picture, filtered at full size.
    result = run_strata({"apply", at("pyramid.tif"), at("inverted.tif"), "-f", "invert"});
    CHECK(result.exit_code == 0);
    CHECK(strata::inspect(at("inverted.tif")).width == 1804);
    CHECK(strata::inspect(at("inverted.tif")).pages == 1);
    result = run_strata({"apply", at("pyramid.tif"), at("inverted.png"), "-f", "invert"});
    CHECK(result.exit_code == 0);
    CHECK_FALSE(contains(result.err, "pages kept"));

    // Pages of different sizes and bands (tiffcp joins them) cannot be held
    // one above another: the first, or --page N, is written, and said so.
    const std::string tiffcp = program("tiffcp");
    if (tiffcp.empty()) {
        strata::test::skip("tiffcp is not installed (Debian: libtiff-tools)");
        return;
    }
    run_vips({"copy", photo("chelsea.jpg").string(), at("colour.tif")});
    run_vips({"copy", photo("camera.png").string(), at("grey.tif")});
    REQUIRE(strata::test::run({tiffcp, at("colour.tif"), at("grey.tif"), at("grey.tif"), at("mixed.tif")}).exit_code == 0);
    result = run_strata({"apply", at("mixed.tif"), at("mixed-out.tif"), "-f", "invert"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "mixed.tif: 1 of 3 pages kept (its pages differ in size or bands"));
    CHECK(strata::inspect(at("mixed-out.tif")).width == 451);
    CHECK(strata::inspect(at("mixed-out.tif")).pages == 1);
    // From page 1 on, the pages are alike: both are written.
    result = run_strata({"apply", at("mixed.tif"), at("grey-out.tif"), "-f", "invert", "--page", "1"});
    CHECK(result.exit_code == 0);
    CHECK(strata::inspect(at("grey-out.tif")).pages == 2);
    CHECK(strata::inspect(at("grey-out.tif")).width == 512);
}

TEST_CASE("Cli.Conversions.streaming: apply says so, and the report gives each file's path") {
    temp_folder folder;
    const auto in = folder.path / "in";
    fs::create_directories(in);
    fs::copy_file(photo("chelsea.jpg"), in / "a.jpg");
    fs::copy_file(photo("camera.png"), in / "b.png");
    auto result = run_strata({"apply", (in / "a.jpg").string(), (folder.path / "a.png").string(), "-f", "gaussblur=2"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "on 2 x processes, streamed ("));
    result = run_strata({"apply", (in / "a.jpg").string(), (folder.path / "a.webp").string(), "-f", "gaussblur=2"});
    CHECK(result.exit_code == 0);
    CHECK_FALSE(contains(result.out, "streamed"));

    // One file at a time, its strips on the workers: streamed where both
    // formats allow it.
    const auto report = folder.path / "report.json";
    const auto batch = [&](const std::string& out, std::vector<std::string> more) {
        std::vector<std::string> args{"batch", in.string(), (folder.path / out).string(), "-f", "gaussblur=2",
                                      "--schedule", "strips", "--json", report.string()};
        args.insert(args.end(), more.begin(), more.end());
        REQUIRE(run_strata(args).exit_code == 0);
        const auto json = nlohmann::json::parse(std::ifstream(report));
        std::map<std::string, std::string> paths;
        for (const auto& file : json["files"]) {
            paths[fs::path(file["input"].get<std::string>()).filename().string()] = file["path"].get<std::string>();
        }
        return paths;
    };
    CHECK(batch("same", {}) == std::map<std::string, std::string>{{"a.jpg", "streamed"}, {"b.png", "streamed"}});
    CHECK(batch("webp", {"--format", "webp"}) == std::map<std::string, std::string>{{"a.jpg", "whole"}, {"b.png", "whole"}});
}
