// Image.Read / Image.Write: decoding into shared memory and atomic encoding.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "strata/strata.hpp"
#include "support/paths.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::temp_folder;
using strata::test::testdata;


bool same_pixels(const strata::image& a, const strata::image& b) {
    return a.layout() == b.layout() && std::memcmp(a.pixels().data(), b.pixels().data(), a.layout().bytes()) == 0;
}

}  // namespace

TEST_CASE("Image.Read.decodes each photograph into shared memory with its layout") {
    struct expected {
        const char* file;
        strata::image_layout layout;
    };
    const expected photos[] = {
        {"astronaut.jpg", {512, 512, 3, strata::sample_type::u8}},
        {"camera.png", {512, 512, 1, strata::sample_type::u8}},
        {"chelsea.jpg", {451, 300, 3, strata::sample_type::u8}},
        {"coffee-rgba.png", {200, 133, 4, strata::sample_type::u8}},
        {"rocket-16bit.png", {160, 107, 3, strata::sample_type::u16}},
    };
    for (const auto& photo : photos) {
        CAPTURE(photo.file);
        const auto picture = strata::read_image(testdata() / "photos" / photo.file);
        CHECK(picture.layout() == photo.layout);
        CHECK(picture.pixels().fd() >= 0);
        CHECK(picture.pixels().size() == photo.layout.bytes());
    }
}

TEST_CASE("Image.Read.EXIF orientation turns the image upright unless asked not to") {
    const auto path = testdata() / "photos" / "chelsea-orientation6.jpg";  // stored turned, orientation 6
    const auto upright = strata::read_image(path);
    CHECK(upright.width() == 226);
    CHECK(upright.height() == 150);
    const auto raw = strata::read_image(path, {.autorotate = false});
    CHECK(raw.width() == 150);
    CHECK(raw.height() == 226);

    // Upright means the right way up: close to the original, not to it upside down.
    const auto original = strata::read_image(testdata() / "photos" / "chelsea.jpg");
    cv::Mat reference;
    cv::resize(cv::Mat(original.height(), original.width(), CV_8UC3, original.pixels().data()), reference, {226, 150}, 0, 0,
               cv::INTER_AREA);
    const cv::Mat turned(upright.height(), upright.width(), CV_8UC3, upright.pixels().data());
    cv::Mat upside_down;
    cv::flip(turned, upside_down, -1);
    const double right_way = cv::norm(turned, reference, cv::NORM_L1) / turned.total();
    const double wrong_way = cv::norm(upside_down, reference, cv::NORM_L1) / turned.total();
    CHECK(right_way < wrong_way / 3);
}

TEST_CASE("Image.Write.lossless formats round-trip every layout exactly") {
    temp_folder folder;
    for (const char* file : {"camera.png", "coffee-rgba.png", "rocket-16bit.png", "chelsea.jpg"}) {
        CAPTURE(file);
        const auto original = strata::read_image(testdata() / "photos" / file);
        for (const char* extension : {".png", ".tif"}) {
            const auto out = folder.path / (std::string("copy") + extension);
            strata::write_image(original, out);
            CHECK(same_pixels(strata::read_image(out), original));
        }
    }
    CHECK(folder.count() == 2);  // the two outputs, no temporary files
}

TEST_CASE("Image.Write.lossy formats honour quality") {
    temp_folder folder;
    const auto original = strata::read_image(testdata() / "photos" / "astronaut.jpg");
    strata::write_image(original, folder.path / "low.jpg", {.quality = 20});
    strata::write_image(original, folder.path / "high.jpg", {.quality = 95});
    strata::write_image(original, folder.path / "photo.webp", {.quality = 80});
    CHECK(fs::file_size(folder.path / "low.jpg") < fs::file_size(folder.path / "high.jpg"));
    CHECK(strata::read_image(folder.path / "photo.webp").layout() == original.layout());
}

TEST_CASE("Image.Write.refusals leave nothing behind") {
    temp_folder folder;
    const auto original = strata::read_image(testdata() / "photos" / "camera.png");
    CHECK_THROWS_WITH_AS(strata::write_image(original, folder.path / "out.xyz"),
                         doctest::Contains("no image format for the extension '.xyz'"), strata::image_error);
    CHECK_THROWS_WITH_AS(strata::write_image(original, folder.path / "missing" / "out.png"),
                         doctest::Contains("cannot create a file in"), strata::image_error);
    CHECK_THROWS_WITH_AS(strata::write_image(original, folder.path / "out.jpg", {.quality = 101}),
                         doctest::Contains("quality 101 is out of range"), strata::image_error);
    CHECK(folder.count() == 0);
}

TEST_CASE("Image.Read.broken files keep their documented reasons") {
    CHECK_THROWS_WITH_AS(strata::read_image(testdata() / "broken" / "truncated.jpg"),
                         doctest::Contains("premature end of input file"), strata::image_error);
    CHECK_THROWS_WITH_AS(strata::read_image(testdata() / "broken" / "empty.jpg"), doctest::Contains("empty file"),
                         strata::image_error);
}
