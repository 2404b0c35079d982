// The smallest program that embeds strata: prints the library version,
// describes the image named on its command line, and blurs it on worker
// processes, all through <strata/strata.hpp> alone.
#include <cstdio>
#include <exception>
#include <string>

#include <strata/strata.hpp>

int main(int argc, char** argv) {
    strata::serve_if_worker();
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer IMAGE\n");
        return 2;
    }
    try {
        const strata::image_info info = strata::inspect(argv[1]);
        const strata::image photo = strata::read_image(argv[1]);
        const strata::image blurred = strata::run_chain(strata::parse_chain("gaussblur=2,invert"), photo,
                                                        {.where = strata::backend::processes, .workers = 2});
        std::printf("strata %s: %dx%d, %d bands; filtered %dx%d\n", std::string(strata::version()).c_str(), info.width,
                    info.height, info.bands, blurred.width(), blurred.height());
    } catch (const strata::error& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
    return 0;
}
