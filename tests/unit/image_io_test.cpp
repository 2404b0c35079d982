// Image.Read / Image.Write: decoding into shared memory and atomic encoding.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

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

TEST_CASE("Image.Write.format options reach the saver") {
    temp_folder folder;
    const auto original = strata::read_image(testdata() / "photos" / "chelsea.jpg");
    // Lossless WebP gives back the exact pixels; the default lossy one does not.
    strata::write_image(original, folder.path / "lossless.webp", {.format_options = {"lossless"}});
    strata::write_image(original, folder.path / "lossy.webp");
    CHECK(same_pixels(strata::read_image(folder.path / "lossless.webp"), original));
    CHECK_FALSE(same_pixels(strata::read_image(folder.path / "lossy.webp"), original));
    // PNG compression trades size for time, never pixels.
    strata::write_image(original, folder.path / "fast.png", {.format_options = {"compression=0"}});
    strata::write_image(original, folder.path / "small.png", {.format_options = {"compression=9"}});
    CHECK(fs::file_size(folder.path / "small.png") < fs::file_size(folder.path / "fast.png"));
    CHECK(same_pixels(strata::read_image(folder.path / "fast.png"), strata::read_image(folder.path / "small.png")));
}

TEST_CASE("Image.Write.bad format options name the option and what is accepted") {
    const fs::path jpeg = "out.jpg";
    const auto check = [](const fs::path& path, std::vector<std::string> options, const char* message) {
        CAPTURE(message);
        CHECK_THROWS_WITH_AS(strata::check_write_options(path, {.format_options = std::move(options)}),
                             doctest::Contains(message), strata::usage_error);
    };
    check(jpeg, {"foo=1"}, "jpegsave has no option 'foo'; accepted: Q, background, interlace");
    check(jpeg, {"Q=900"}, "'900' is not accepted; accepted: a whole number from 1 to 100");
    check(jpeg, {"Q=9.5"}, "a whole number from 1 to 100");
    check(jpeg, {"Q"}, "needs a value, as in Q=VALUE");
    check("out.webp", {"lossless=maybe"}, "'maybe' is not accepted; accepted: true or false");
    check("out.tif", {"compression=zip"}, "should be one of: none, jpeg, deflate");
    check("out.png", {"compression=3,Q=4"}, "one option per flag");
    CHECK_NOTHROW(strata::check_write_options(jpeg, {.format_options = {"optimize_coding", "Q=50", "interlace=true"}}));
    CHECK_NOTHROW(strata::check_write_options("out.tif", {.format_options = {"compression=lzw", "tile"}}));
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

TEST_CASE("Image.Write.new files get 0666 less the umask, also when many threads write at once") {
    temp_folder folder;
    const auto photo = strata::read_image(testdata() / "photos" / "camera.png");
    const mode_t saved = ::umask(027);
    std::vector<std::thread> writers;
    for (int i = 0; i < 8; ++i) {
        writers.emplace_back([&, i] {
            strata::write_image(photo, folder.path / ("out-" + std::to_string(i) + ".png"));
            strata::write_image(photo, folder.path / ("out-" + std::to_string(i) + ".png"));  // over an existing file
        });
    }
    for (auto& writer : writers) writer.join();
    CHECK(::umask(saved) == 027);  // never changed, even for a moment that another thread could see
    for (int i = 0; i < 8; ++i) {
        const auto permissions = std::filesystem::status(folder.path / ("out-" + std::to_string(i) + ".png")).permissions();
        CHECK(permissions == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                              std::filesystem::perms::group_read));
    }
    CHECK(folder.count() == 8);  // no temporary name left beside them
}
