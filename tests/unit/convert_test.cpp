// Convert: convert_file overlaps decoding, filtering and encoding, and still
// writes exactly the file the three steps one after another write.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "strata/detail/output_file.hpp"
#include "strata/filter.hpp"
#include "strata/strata.hpp"
#include "support/leaks.hpp"
#include "support/paths.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::temp_folder;
using strata::test::testdata;

std::vector<char> bytes_of(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// The file the three steps one after another write: the reference.
void write_in_turn(const fs::path& input, const fs::path& output, const std::string& chain,
                   const strata::write_options& writing = {}) {
    const auto result = strata::run_chain(strata::parse_chain(chain), strata::read_image(input),
                                          {.where = strata::backend::serial, .strips = 1});
    strata::write_image(result, output, writing);
}

strata::pool& two_workers() {
    static strata::pool workers({.processes = 2});
    return workers;
}

// A photograph larger than the bundled ones, so that strips overlap with
// decoding for real: chelsea.jpg enlarged to 1804x1200, saved as JPEG.
fs::path large_photo(const fs::path& folder) {
    const auto path = folder / "large.jpg";
    write_in_turn(testdata() / "photos" / "chelsea.jpg", path, "resize=scale=4", {.quality = 92});
    return path;
}

}  // namespace

TEST_CASE("Convert.BitExact.the same file as decode, run_chain, encode, for every backend, strip count and chain shape") {
    temp_folder folder;
    const std::vector<fs::path> inputs = {testdata() / "photos" / "camera.png", testdata() / "photos" / "coffee-rgba.png",
                                          testdata() / "photos" / "rocket-16bit.png", large_photo(folder.path)};
    const std::vector<std::string> chains = {
        "gaussblur=2,sharpen=amount=1.5",      // one strip stage: encoder overlapped too
        "invert",                              // halo 0
        "grayscale,median=3",                  // bands change
        "gaussblur=1.5,rotate=90,boxblur=2",   // a geometry stage in the middle
        "flip,gaussblur=2",                    // geometry first: no overlap
        "median=3,resize=scale=0.5",           // geometry last
    };
    for (const auto& input : inputs) {
        for (const auto& chain : chains) {
            const std::string input_name = input.filename().string();
            CAPTURE(input_name);
            CAPTURE(chain);
            const auto reference = folder.path / "reference.tif";  // quick to encode, and exact
            write_in_turn(input, reference, chain);
            const auto expected = bytes_of(reference);
            // One row per strip, too, where that is few strips.
            const int height = strata::read_image(input).height();
            std::vector<int> strip_counts = {1, 3, 64};
            if (height <= 200) strip_counts.push_back(height);
            for (const auto where : {strata::backend::processes, strata::backend::threads, strata::backend::serial}) {
                for (const int strips : strip_counts) {
                    CAPTURE(static_cast<int>(where));
                    CAPTURE(strips);
                    const auto output = folder.path / "converted.tif";
                    const auto done = strata::convert_file(
                        input, output, strata::parse_chain(chain), {}, {},
                        {.where = where, .workers = 2, .strips = static_cast<unsigned>(strips)}, &two_workers());
                    CHECK(bytes_of(output) == expected);
                    CHECK(done.layout == strata::read_image(output).layout());
                    CHECK(done.decoded <= done.filtered);
                    CHECK(done.filtered <= done.written);
                }
            }
        }
    }
}

TEST_CASE("Convert.BitExact.JPEG output with quality and metadata equals the three steps' file") {
    temp_folder folder;
    const auto input = large_photo(folder.path);
    write_in_turn(input, folder.path / "reference.jpg", "gaussblur=3", {.quality = 90});
    strata::convert_file(input, folder.path / "converted.jpg", strata::parse_chain("gaussblur=3"), {}, {.quality = 90},
                         {.workers = 2}, &two_workers());
    CHECK(bytes_of(folder.path / "converted.jpg") == bytes_of(folder.path / "reference.jpg"));
}

TEST_CASE("Convert.Failure.no file is left when decoding, a strip or the encoder fails, and nothing hangs") {
    temp_folder folder;
    const auto output = folder.path / "out.png";
    two_workers();  // started before the snapshot: its descriptors stay
    const strata::test::leak_check snapshot;
    for (const auto where : {strata::backend::processes, strata::backend::threads}) {
        CAPTURE(static_cast<int>(where));
        const strata::run_options options{.where = where, .workers = 2, .strips = 16};
        // The decoder fails part way.
        CHECK_THROWS_WITH_AS(strata::convert_file(testdata() / "broken" / "truncated.jpg", output,
                                                  strata::parse_chain("gaussblur=2"), {}, {}, options, &two_workers()),
                             doctest::Contains("truncated.jpg: premature end of input file"), strata::image_error);
        // Every strip fails in its worker: bilateral takes no alpha band.
        CHECK_THROWS_WITH(strata::convert_file(testdata() / "photos" / "coffee-rgba.png", output,
                                               strata::parse_chain("bilateral"), {}, {}, options, &two_workers()),
                          doctest::Contains("bilateral: works on 8-bit or float images of 1 or 3 bands, not 4 bands"));
        // The encoder cannot create its file: the run stops early.
        CHECK_THROWS_WITH_AS(strata::convert_file(testdata() / "photos" / "camera.png", folder.path / "missing" / "out.png",
                                                  strata::parse_chain("gaussblur=2"), {}, {}, options, &two_workers()),
                             doctest::Contains("missing"), strata::image_error);
        CHECK(folder.count() == 0);
    }
    CHECK(strata::test::open_fds().size() == snapshot.fds.size());
    // The pool goes on.
    strata::convert_file(testdata() / "photos" / "camera.png", output, strata::parse_chain("invert"), {}, {},
                         {.workers = 2}, &two_workers());
    CHECK(fs::exists(output));
}

namespace {

// A picture `height` rows high and `width` wide whose every row differs
// (diagonal bands and a ramp), saved as PNG.
fs::path tall_picture(const fs::path& folder, int width, int height) {
    strata::image picture({width, height, 3, strata::sample_type::u8});
    for (int y = 0; y < height; ++y) {
        auto* row = reinterpret_cast<std::uint8_t*>(picture.row(y));
        for (int x = 0; x < width; ++x) {
            row[3 * x] = static_cast<std::uint8_t>((x + y) * 7);
            row[3 * x + 1] = static_cast<std::uint8_t>(y / 3);
            row[3 * x + 2] = static_cast<std::uint8_t>(((x * 13) ^ y) & 0xff);
        }
    }
    const auto path = folder / "tall.png";
    strata::write_image(picture, path);
    return path;
}

}  // namespace

TEST_CASE("Convert.Streaming.an image many times taller than the rings comes out as the three steps write it") {
    temp_folder folder;
    // 97 pixels: a row of 291 bytes, so rows straddle the rings' pages and ends.
    const auto input = tall_picture(folder.path, 97, 9000);
    for (const std::string chain :
         {"gaussblur=2,sharpen=amount=1.5", "grayscale,median=5", "invert",
          // Crops and flops at either end: the decoder's and the encoder's.
          "crop=x=3:y=1000:width=90:height=6000,gaussblur=2,flop",
          "flop , median=5 , crop=x=0:y=17:width=50:height=8000",
          "crop=x=5:y=5:width=80:height=8990,flop,invert,sharpen,flop,crop=x=1:y=2:width=70:height=100",
          // Rows far above and below what the encoder's crop keeps, a halo wider than short strips.
          "gaussblur=4,crop=x=0:y=3000:width=97:height=3000",
          // No filter at all, or crops and flops only: copies.
          "", "crop=x=2:y=100:width=60:height=5000,flop"}) {
        const auto reference = folder.path / "reference.png";
        write_in_turn(input, reference, chain);
        for (const auto where : {strata::backend::processes, strata::backend::threads, strata::backend::serial}) {
            // 10-row strips: the rings hold a few dozen of the 9000 rows.
            for (const unsigned strips : {0u, 900u, 9000u}) {
                CAPTURE(chain);
                CAPTURE(static_cast<int>(where));
                CAPTURE(strips);
                const auto output = folder.path / "streamed.png";
                const auto done = strata::convert_file(input, output, strata::parse_chain(chain), {}, {},
                                                       {.where = where, .workers = 2, .strips = strips}, &two_workers());
                CHECK(done.streamed);
                CHECK(bytes_of(output) == bytes_of(reference));
            }
        }
    }
}

namespace {

// A `layout` picture of pseudo-random samples (every sum rounds somewhere
// else), saved as TIFF (which holds every depth and band count).
fs::path noise_picture(const fs::path& folder, const strata::image_layout& layout) {
    strata::image picture(layout);
    std::uint32_t state = 12345;
    const auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 8; };
    for (int y = 0; y < layout.height; ++y) {
        auto* row = picture.row(y);
        for (int i = 0; i < layout.width * layout.bands; ++i) {
            switch (layout.type) {
            case strata::sample_type::u8: reinterpret_cast<std::uint8_t*>(row)[i] = static_cast<std::uint8_t>(next()); break;
            case strata::sample_type::u16: reinterpret_cast<std::uint16_t*>(row)[i] = static_cast<std::uint16_t>(next()); break;
            case strata::sample_type::f32: reinterpret_cast<float*>(row)[i] = static_cast<float>(next() % 100000) / 99999.0f; break;
            }
        }
    }
    const auto path = folder / fmt::format("noise-{}x{}-{}-{}.tif", layout.width, layout.height, layout.bands,
                                           static_cast<int>(layout.type));
    strata::write_image(picture, path);
    return path;
}

}  // namespace

TEST_CASE("Convert.Streaming.area shrinks are made row by row as the file is read, with cv::resize's pixels") {
    temp_folder folder;
    // Whole factors on both axes (cv::resize on blocks of rows), fractional
    // ones (strata's own sums, held to OpenCV's), one axis kept, one pixel.
    const std::vector<std::pair<int, int>> sizes = {{165, 128}, {110, 64}, {33, 32}, {109, 85}, {330, 100},
                                                    {100, 256}, {1, 1},    {330, 1}, {7, 255}};
    for (const auto type : {strata::sample_type::u8, strata::sample_type::u16, strata::sample_type::f32}) {
        for (const int bands : {1, 2, 3, 4}) {
            const auto input = noise_picture(folder.path, {330, 256, bands, type});
            const strata::image decoded = strata::read_image(input);
            const cv::Mat whole = strata::as_mat(decoded);
            for (const auto& [width, height] : sizes) {
                CAPTURE(static_cast<int>(type));
                CAPTURE(bands);
                CAPTURE(width);
                CAPTURE(height);
                const auto output = folder.path / "shrunk.tif";
                const auto done = strata::convert_file(
                    input, output, strata::parse_chain(fmt::format("resize=width={}:height={}:fit=fill", width, height)),
                    {}, {}, {.where = strata::backend::serial}, nullptr);
                CHECK(done.streamed);
                cv::Mat expected;
                cv::resize(whole, expected, {width, height}, 0, 0, cv::INTER_AREA);
                const strata::image written = strata::read_image(output);
                const cv::Mat got = strata::as_mat(written);
                REQUIRE(got.size() == expected.size());
                CHECK(cv::norm(got, expected, cv::NORM_INF) == 0);
                CHECK(std::memcmp(got.data, expected.data, expected.total() * expected.elemSize()) == 0);
            }
        }
    }
}

TEST_CASE("Convert.Streaming.thumbnails and shrinks in a chain stream, and write what the three steps write") {
    temp_folder folder;
    const auto rgba = noise_picture(folder.path, {301, 211, 4, strata::sample_type::u8});
    const auto grey16 = noise_picture(folder.path, {256, 300, 2, strata::sample_type::u16});
    const auto tall = tall_picture(folder.path, 97, 9000);
    const std::vector<std::pair<fs::path, std::string>> cases = {
        {rgba, "thumbnail=100"},                        // alpha: averaged premultiplied
        {rgba, "thumbnail=100x80:crop=centre"},         // a centre kept
        {rgba, "thumbnail=64x64:crop=centre,sharpen"},  // and filtered in strips after
        {grey16, "thumbnail=128x150"},                  // whole factors, 16-bit, alpha
        {grey16, "crop=x=10:y=20:width=200:height=250,resize=scale=0.3,gaussblur=1,flop"},
        {tall, "resize=width=50:height=3001:fit=fill,median=3"},  // many times taller than the rings
        {tall, "thumbnail=x1500,crop=x=2:y=700:width=12:height=300"},
        {rgba, "thumbnail=301"},                        // nothing to shrink: a copy
    };
    for (const auto& [input, chain] : cases) {
        const auto reference = folder.path / "reference.tif";
        write_in_turn(input, reference, chain);
        for (const auto where : {strata::backend::processes, strata::backend::threads, strata::backend::serial}) {
            for (const unsigned strips : {0u, 7u}) {
                CAPTURE(chain);
                CAPTURE(static_cast<int>(where));
                CAPTURE(strips);
                const auto output = folder.path / "streamed.tif";
                const auto done = strata::convert_file(input, output, strata::parse_chain(chain), {}, {},
                                                       {.where = where, .workers = 2, .strips = strips}, &two_workers());
                CHECK(done.streamed);
                CHECK(bytes_of(output) == bytes_of(reference));
            }
        }
    }
    // Held whole: a shrink that enlarges or interpolates, an attention crop
    // (it looks at the whole picture), geometry after the shrink.
    for (const std::string chain : {"resize=scale=2", "resize=scale=0.5:interpolation=linear",
                                    "thumbnail=100x80:crop=attention", "thumbnail=100,flip",
                                    "resize=width=400:height=100:fit=fill"}) {
        CAPTURE(chain);
        const auto reference = folder.path / "reference.tif";
        write_in_turn(rgba, reference, chain);
        const auto output = folder.path / "whole.tif";
        CHECK_FALSE(strata::convert_file(rgba, output, strata::parse_chain(chain), {}, {}, {.workers = 2}, &two_workers())
                        .streamed);
        CHECK(bytes_of(output) == bytes_of(reference));
    }
}

TEST_CASE("Convert.Streaming.a shrink decoded smaller streams under the limits of what streams; a large block does not") {
    temp_folder folder;
    const auto jpeg = large_photo(folder.path);  // 1804x1200
    // Decoded at 1/2 by the JPEG decoder (a factor 3 left), then averaged as rows come: the
    // whole-image pixel limit does not apply, the streamed one does.
    const auto done = strata::convert_file(jpeg, folder.path / "a.png", strata::parse_chain("thumbnail=300"),
                                           {.max_pixels = 1000}, {}, {.workers = 2}, &two_workers());
    CHECK(done.streamed);
    CHECK(done.load_shrink == doctest::Approx(2).epsilon(0.01));
    CHECK_THROWS_WITH_AS(strata::convert_file(jpeg, folder.path / "b.png", strata::parse_chain("thumbnail=300"),
                                              {.max_streamed_pixels = 1000}, {}, {.workers = 2}, &two_workers()),
                         doctest::Contains("over the limit of 1000"), strata::image_error);
    // A whole factor of 1200 down a 20000-pixel-wide image would hold 1200
    // rows (72 MB) at once: held whole instead; half of that streams.
    const auto wide = noise_picture(folder.path, {20000, 1200, 3, strata::sample_type::u8});
    const auto shrink_to = [&](int height) {
        return strata::convert_file(wide, folder.path / "c.tif",
                                    strata::parse_chain(fmt::format("resize=width=20000:height={}:fit=fill", height)),
                                    {}, {}, {.where = strata::backend::serial}, nullptr)
            .streamed;
    };
    CHECK_FALSE(shrink_to(1));
    CHECK(shrink_to(2));
}

TEST_CASE("Convert.Streaming.what streams, what is held whole, and the pixel limit of each") {
    temp_folder folder;
    const auto jpeg = large_photo(folder.path);
    const auto gauss = strata::parse_chain("gaussblur=2");
    const strata::run_options processes{.workers = 2};
    const auto streamed = [&](const fs::path& input, const std::string& output, const strata::filter_chain& chain,
                              const strata::run_options& options = {.workers = 2}) {
        return strata::convert_file(input, folder.path / output, chain, {}, {}, options, &two_workers()).streamed;
    };
    CHECK(streamed(jpeg, "a.png", gauss));
    CHECK(streamed(jpeg, "a.jpg", gauss));
    CHECK(streamed(jpeg, "a.tif", gauss));
    CHECK(streamed(testdata() / "photos" / "rocket-16bit.png", "a.png", gauss));
    CHECK(streamed(jpeg, "a.png", gauss, {.where = strata::backend::threads, .workers = 2}));
    CHECK(streamed(jpeg, "a.png", gauss, {.where = strata::backend::serial}));
    // One thread for strips: the decoder's own (it must not wait on itself).
    CHECK(streamed(jpeg, "a.png", gauss, {.where = strata::backend::threads, .workers = 1, .strips = 64}));
    // Held whole: a saver that needs every row, geometry that is not a crop or flop, a
    // progressive JPEG or interlaced PNG, an image to turn upright.
    CHECK_FALSE(streamed(jpeg, "a.webp", gauss));
    CHECK_FALSE(streamed(jpeg, "a.png", strata::parse_chain("gaussblur=2,flip")));
    CHECK_FALSE(streamed(jpeg, "a.png", strata::parse_chain("gaussblur=2,flop,invert")));
    // No filter: a conversion, or crops and flops only, streams as copies.
    CHECK(streamed(jpeg, "a.png", {}));
    CHECK(streamed(jpeg, "a.png", strata::parse_chain("crop=width=100:height=100,flop")));
    // Crops and flops before and after the filters stream.
    CHECK(streamed(jpeg, "a.png", strata::parse_chain("crop=x=10:y=600:width=500:height=400,gaussblur=2,flop")));
    // A crop that does not fit fails as the filter says, before anything is written.
    CHECK_THROWS_WITH_AS(streamed(jpeg, "d.png", strata::parse_chain("gaussblur=2,crop=x=1800:width=10:height=10")),
                         doctest::Contains("does not fit in the 1804x1200 image"), strata::error);
    CHECK_FALSE(fs::exists(folder.path / "d.png"));
    strata::write_image(strata::read_image(jpeg), folder.path / "progressive.jpg", {.format_options = {"interlace"}});
    CHECK_FALSE(streamed(folder.path / "progressive.jpg", "a.png", gauss));
    strata::write_image(strata::read_image(jpeg), folder.path / "interlaced.png", {.format_options = {"interlace"}});
    CHECK_FALSE(streamed(folder.path / "interlaced.png", "a.png", gauss));
    CHECK_FALSE(streamed(testdata() / "photos" / "chelsea-orientation6.jpg", "a.png", gauss));

    // The pixel limit: max_streamed_pixels for a file that streams,
    // max_pixels for one held whole.
    const strata::load_options small{.max_pixels = 1000};
    CHECK(strata::convert_file(jpeg, folder.path / "b.png", gauss, small, {}, processes, &two_workers()).streamed);
    CHECK_THROWS_WITH_AS(strata::convert_file(jpeg, folder.path / "b.webp", gauss, small, {}, processes, &two_workers()),
                         doctest::Contains("over the limit of 1000"), strata::image_error);
    const strata::load_options small_streamed{.max_streamed_pixels = 1000};
    CHECK_THROWS_WITH_AS(
        strata::convert_file(jpeg, folder.path / "c.png", gauss, small_streamed, {}, processes, &two_workers()),
        doctest::Contains("over the limit of 1000"), strata::image_error);
    CHECK_FALSE(fs::exists(folder.path / "c.png"));
}

TEST_CASE("Convert.Failure.a gone worker's temporary files for an output are removed, nothing else") {
    temp_folder folder;
    // A process id that is free now: a child that has exited and been reaped.
    const pid_t gone = ::fork();
    if (gone == 0) ::_exit(0);
    REQUIRE(gone > 0);
    REQUIRE(::waitpid(gone, nullptr, 0) == gone);
    const auto make = [&](const std::string& name) { std::ofstream(folder.path / name) << "partial"; };
    const std::string pid = std::to_string(gone);
    const std::string orphan = ".photo.strata-" + pid + "-0123abcd.fits";
    const std::vector<std::string> kept = {
        ".photo.strata-" + pid + "-0123abcd.png",                         // another output's
        ".photos.strata-" + pid + "-0123abcd.fits",                       // another stem's
        ".photo.strata-" + pid + "-0123abcz.fits",                        // not a name strata makes
        ".photo.strata-" + std::to_string(::getppid()) + "-89abcdef.fits",  // a live process's
        "photo.fits"};
    make(orphan);
    for (const auto& name : kept) make(name);
    const auto place = strata::detail::place_of(folder.path / "photo.fits");
    // A live owner (this process, its parent) leaves everything.
    strata::detail::remove_orphaned_temporaries(place, ::getppid());
    strata::detail::remove_orphaned_temporaries(place, ::getpid());
    CHECK(std::filesystem::exists(folder.path / orphan));
    strata::detail::remove_orphaned_temporaries(place, gone);
    CHECK_FALSE(std::filesystem::exists(folder.path / orphan));
    for (const auto& name : kept) {
        CAPTURE(name);
        CHECK(std::filesystem::exists(folder.path / name));
    }
}

TEST_CASE("Convert.Failure.a streamed crop below where a file is cut leaves no file, though the saver says it wrote one") {
    temp_folder folder;
    // The bundled 512x512 PNG cut at about half its rows.
    const auto whole = bytes_of(testdata() / "photos" / "camera.png");
    const auto cut = folder.path / "cut.png";
    std::ofstream(cut, std::ios::binary).write(whole.data(), 70000);
    const auto chain = strata::parse_chain("crop=x=0:y=500:width=10:height=10");
    for (const auto where : {strata::backend::processes, strata::backend::threads, strata::backend::serial}) {
        for (int attempt = 0; attempt < 4; ++attempt) {
            CAPTURE(static_cast<int>(where));
            const auto output = folder.path / "out.png";
            CHECK_THROWS_AS(strata::convert_file(cut, output, chain, {}, {}, {.where = where, .workers = 2}, &two_workers()),
                            strata::error);
            CHECK_FALSE(fs::exists(output));
        }
    }
}
