// Image.Inspect: decoding the bundled photographs and refusing the broken files.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "strata/strata.hpp"
#include "support/paths.hpp"

namespace {

using strata::test::testdata;

struct expected_image {
    const char* file;
    int width, height, bands, bits;
    bool alpha;
    const char* loader;
};

std::string failure_reason(const std::filesystem::path& path, const strata::load_options& options = {}) {
    try {
        strata::inspect(path, options);
    } catch (const strata::image_error& e) {
        CHECK(e.path() == path);
        CHECK(std::string(e.what()) == path.string() + ": " + e.reason());
        return e.reason();
    }
    FAIL("inspect accepted " << path);
    return {};
}

}  // namespace

TEST_CASE("Image.Inspect.describes every bundled photograph exactly") {
    const expected_image photos[] = {
        {"astronaut.jpg", 512, 512, 3, 8, false, "jpegload"},
        {"camera.png", 512, 512, 1, 8, false, "pngload"},
        {"chelsea.jpg", 451, 300, 3, 8, false, "jpegload"},
        {"coffee-rgba.png", 200, 133, 4, 8, true, "pngload"},
        {"rocket-16bit.png", 160, 107, 3, 16, false, "pngload"},
    };
    for (const auto& photo : photos) {
        CAPTURE(photo.file);
        const auto path = testdata() / "photos" / photo.file;
        const auto info = strata::inspect(path);
        CHECK(info.path == path);
        CHECK(info.width == photo.width);
        CHECK(info.height == photo.height);
        CHECK(info.bands == photo.bands);
        CHECK(info.bits == photo.bits);
        CHECK_FALSE(info.is_float);
        CHECK(info.has_alpha == photo.alpha);
        CHECK(info.loader == photo.loader);
        CHECK(info.file_bytes == std::filesystem::file_size(path));
        CHECK(info.mean > 0);
    }
}

TEST_CASE("Image.Inspect.16-bit samples keep their full range") {
    const auto info = strata::inspect(testdata() / "photos" / "rocket-16bit.png");
    CHECK(info.interpretation == "rgb16");
    CHECK(info.mean > 255);  // an 8-bit decode could not average above 255
}

TEST_CASE("Image.Inspect.broken files fail with the documented reason") {
    const auto broken = testdata() / "broken";
    CHECK(failure_reason(broken / "empty.jpg") == "empty file (0 bytes)");
    CHECK(failure_reason(broken / "not-an-image.png") ==
          "not an image strata reads: its content is not PNG, as its name says, nor any format of libvips' trusted "
          "loaders");
    CHECK(failure_reason(broken / "truncated.jpg") == "premature end of input file");
    CHECK(failure_reason(broken / "does-not-exist.jpg") == "no such file");
    CHECK(failure_reason(broken) == "is a directory, not an image file");
}

TEST_CASE("Image.Inspect.fail_on none decodes what a truncated file holds") {
    const auto info = strata::inspect(testdata() / "broken" / "truncated.jpg", {.fail = strata::fail_on::none});
    CHECK(info.width == 512);
    CHECK(info.height == 512);
}

TEST_CASE("Image.Inspect.an image over the pixel limit is refused before decoding") {
    const auto path = testdata() / "photos" / "camera.png";
    CHECK(failure_reason(path, {.max_pixels = 512 * 512 - 1}) ==
          "512x512 is 262144 pixels, over the limit of 262143 (raise the pixel limit to read it)");
    CHECK(strata::inspect(path, {.max_pixels = 512 * 512}).width == 512);
}
