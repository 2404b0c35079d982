// Pipeline: the bit-exact invariant (every filter, chains, strip counts,
// backends, real photographs) and chain parsing errors.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include <opencv2/imgproc.hpp>

#include "strata/strata.hpp"
#include "strata/filter.hpp"
#include "strata/pipeline.hpp"
#include "support/paths.hpp"

namespace {

using strata::test::testdata;

const char* photos[] = {"camera.png", "chelsea.jpg", "coffee-rgba.png", "rocket-16bit.png"};

bool identical(const strata::image& a, const strata::image& b) {
    return a.layout() == b.layout() && std::memcmp(a.pixels().data(), b.pixels().data(), a.layout().bytes()) == 0;
}

// The whole image in one piece, in this process: the reference.
strata::image whole_image(const strata::filter_chain& chain, const strata::image& input) {
    return strata::run_chain(chain, input, {.where = strata::backend::serial, .strips = 1});
}

std::vector<int> strip_counts(int height) { return {1, 2, 3, 7, 64, height}; }

strata::pool& shared_pool() {
    static strata::pool workers({.processes = 2});
    return workers;
}

strata::image copy_of(const strata::image& picture) {
    strata::image copy(picture.layout());
    std::memcpy(copy.pixels().data(), picture.pixels().data(), picture.layout().bytes());
    return copy;
}

void check_every_split(const std::string& chain_text, const strata::image& input) {
    const auto chain = strata::parse_chain(chain_text);
    const auto original = copy_of(input);
    const auto reference = whole_image(chain, input);
    for (const auto where : {strata::backend::serial, strata::backend::threads, strata::backend::processes}) {
        for (const int strips : strip_counts(input.height())) {
            CAPTURE(static_cast<int>(where));
            CAPTURE(strips);
            const auto result = strata::run_chain(chain, input, {.where = where, .workers = 2, .strips = static_cast<unsigned>(strips)},
                                                  &shared_pool());
            CHECK(identical(result, reference));
        }
    }
    // Serially the result may be written back over the input's own pixels,
    // each strip held until no later strip reads the rows under it.
    for (const int strips : strip_counts(input.height())) {
        CAPTURE(strips);
        const auto scratch = copy_of(input);
        const auto result = strata::run_chain(
            chain, scratch, {.where = strata::backend::serial, .strips = static_cast<unsigned>(strips), .reuse_input = true});
        CHECK(identical(result, reference));
    }
    CHECK(identical(input, original));  // without reuse_input, never touched
}

}  // namespace

TEST_CASE("Pipeline.BitExact.every filter, strip count and backend equals the whole-image run") {
    const std::vector<std::string> chains = {
        "gaussblur=sigma=2.5", "boxblur=radius=3", "median=size=5", "sharpen=sigma=1.5:amount=2", "invert",
        "grayscale", "threshold=level=0.4", "brightness=0.1:1.3", "gamma=1.8", "sepia", "emboss", "edges=3",
        "flip", "flop", "rotate=90", "rotate=270", "crop=x=5:y=7:width=100:height=90", "resize=scale=0.7",
        "gaussblur=1.5,rotate=90,sharpen=amount=1", "boxblur=2,resize=width=77:interpolation=cubic,median=3"};
    for (const char* photo : photos) {
        const auto input = strata::read_image(testdata() / "photos" / photo);
        auto all = chains;
        if (input.type() == strata::sample_type::u8 && (input.bands() == 1 || input.bands() == 3)) {
            all.push_back("bilateral=diameter=7:sigma_color=40:sigma_space=5");
            all.push_back("bilateral=diameter=1");  // OpenCV widens it to 3
        }
        for (const auto& chain : all) {
            const std::string photo_name = photo;
            const std::string chain_text = chain;
            CAPTURE(photo_name);
            CAPTURE(chain_text);
            check_every_split(chain, input);
        }
    }
}

TEST_CASE("Pipeline.BitExact.OpenCV-backed filters equal the direct OpenCV call on the whole image") {
    for (const char* photo : photos) {
        const std::string photo_name = photo;
        CAPTURE(photo_name);
        const auto input = strata::read_image(testdata() / "photos" / photo);
        const cv::Mat source = strata::as_mat(input);
        auto strata_result = [&](const char* chain) {
            return strata::as_mat(strata::run_chain(strata::parse_chain(chain), input, {.workers = 2, .strips = 7}, &shared_pool()))
                .clone();
        };
        cv::Mat expected;
        cv::GaussianBlur(source, expected, {0, 0}, 3);
        CHECK(cv::norm(strata_result("gaussblur=sigma=3"), expected, cv::NORM_INF) == 0);
        cv::blur(source, expected, {5, 5});
        CHECK(cv::norm(strata_result("boxblur=radius=2"), expected, cv::NORM_INF) == 0);
        cv::medianBlur(source, expected, 3);
        CHECK(cv::norm(strata_result("median=3"), expected, cv::NORM_INF) == 0);
        const cv::Mat emboss_kernel = (cv::Mat_<float>(3, 3) << -2, -1, 0, -1, 1, 1, 0, 1, 2);
        cv::filter2D(source, expected, -1, emboss_kernel);
        CHECK(cv::norm(strata_result("emboss"), expected, cv::NORM_INF) == 0);
        if (source.depth() == CV_8U && (source.channels() == 1 || source.channels() == 3)) {
            cv::bilateralFilter(source, expected, 9, 50, 50);
            CHECK(cv::norm(strata_result("bilateral"), expected, cv::NORM_INF) == 0);
        }
    }
}

TEST_CASE("Pipeline.BitExact.random chains over random strip counts") {
    std::mt19937 random(20261122);
    const char* steps[] = {"gaussblur=sigma=1.2", "gaussblur=0.7", "boxblur=1", "boxblur=radius=4", "median=3",
                           "median=size=5", "sharpen=amount=0.8", "invert", "grayscale", "threshold=0.6",
                           "brightness=-0.1", "gamma=0.7", "sepia", "emboss", "edges=5", "flop", "rotate=180",
                           "resize=1.3:interpolation=linear"};
    for (int round = 0; round < 12; ++round) {
        std::string chain;
        const int length = 2 + static_cast<int>(random() % 3);
        for (int i = 0; i < length; ++i) chain += (i ? "," : "") + std::string(steps[random() % std::size(steps)]);
        const std::string photo = photos[random() % std::size(photos)];
        CAPTURE(chain);
        CAPTURE(photo);
        check_every_split(chain, strata::read_image(testdata() / "photos" / photo));
    }
}

TEST_CASE("Pipeline.Geometry.flip, rotate, crop and resize do what they say") {
    const auto input = strata::read_image(testdata() / "photos" / "chelsea.jpg");  // 451x300
    auto run = [&](const char* chain) { return strata::run_chain(strata::parse_chain(chain), input, {.where = strata::backend::serial}); };
    CHECK(identical(run("flip,flip"), input));
    CHECK(identical(run("flop,flop"), input));
    CHECK(identical(run("rotate=90,rotate=90,rotate=90,rotate=90"), input));
    CHECK(identical(run("rotate=90,rotate=270"), input));
    CHECK(identical(run("flip,flop"), run("rotate=180")));
    const auto turned = run("rotate=90");
    CHECK(turned.width() == 300);
    CHECK(turned.height() == 451);
    const auto cropped = run("crop=x=10:y=20:width=30:height=40");
    CHECK(cropped.width() == 30);
    CHECK(cropped.height() == 40);
    CHECK(std::memcmp(cropped.row(0), input.row(20) + 10 * 3, 30 * 3) == 0);
    const auto smaller = run("resize=width=100");
    CHECK(smaller.width() == 100);
    CHECK(smaller.height() == 67);  // 300 x 100 / 451, rounded
    CHECK_THROWS_WITH_AS(run("crop=x=400:y=0:width=100:height=10"), doctest::Contains("does not fit in the 451x300 image"),
                         strata::error);
}

TEST_CASE("Pipeline.Filters.refuse what OpenCV cannot do, with the reason") {
    const auto rgba = strata::read_image(testdata() / "photos" / "coffee-rgba.png");
    CHECK_THROWS_WITH_AS(strata::run_chain(strata::parse_chain("bilateral"), rgba, {.where = strata::backend::serial}),
                         doctest::Contains("bilateral: works on 8-bit or float images of 1 or 3 bands, not 4 bands"),
                         strata::error);
    const auto deep = strata::read_image(testdata() / "photos" / "rocket-16bit.png");
    CHECK_THROWS_WITH_AS(strata::run_chain(strata::parse_chain("median=9"), deep, {.where = strata::backend::serial}),
                         doctest::Contains("median: size 9 on 16-bit or float images; accepted: 3 or 5"), strata::error);
}

TEST_CASE("Pipeline.Chain.parses names, positional and named parameters") {
    const auto chain = strata::parse_chain(" gaussblur=3 , sharpen=sigma=2:amount=1.5,invert");
    REQUIRE(chain.steps.size() == 3);
    CHECK(chain.steps[0].filter->name == "gaussblur");
    CHECK(chain.steps[0].args.number("sigma") == 3);
    CHECK(chain.steps[1].args.number("sigma") == 2);
    CHECK(chain.steps[1].args.number("amount") == 1.5);
    CHECK(chain.steps[2].filter->name == "invert");
    CHECK(strata::parse_chain("sharpen=0.5").steps[0].args.number("amount") == 1);  // default kept
}

TEST_CASE("Pipeline.Chain.errors name the filter, parameter and range, and point at the text") {
    auto error_of = [](const char* text) {
        try {
            strata::parse_chain(text);
        } catch (const strata::chain_error& e) {
            return e;
        }
        FAIL("accepted " << text);
        throw std::logic_error("unreachable");
    };
    auto e = error_of("invert,gausblur=3");
    CHECK(e.message() == "unknown filter 'gausblur'; did you mean gaussblur?");
    CHECK(e.position() == 7);
    CHECK(std::string(e.what()).find("\n  invert,gausblur=3\n         ^") != std::string::npos);

    e = error_of("gaussblur=sigma=500");
    CHECK(e.message() == "gaussblur: parameter 'sigma' 500 is out of range; accepted: a number from 0.1 to 100");
    CHECK(e.position() == 16);

    e = error_of("boxblur=radius=1.5");
    CHECK(e.message().find("1.5 is not a whole number") != std::string::npos);
    e = error_of("gaussblur=size=3");
    CHECK(e.message() == "gaussblur: no parameter 'size'; it takes sigma");
    e = error_of("invert=1");
    CHECK(e.message().find("takes 0 parameters") != std::string::npos);
    e = error_of("gaussblur,,invert");
    CHECK(e.message() == "empty filter step");
    e = error_of("frobnicate");
    CHECK(e.message() == "unknown filter 'frobnicate'; run 'strata filters' for the list");
}
