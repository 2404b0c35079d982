// The smallest program that embeds strata: prints the library version and
// describes the image named on its command line.
#include <cstdio>
#include <exception>

#include <strata/strata.hpp>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer IMAGE\n");
        return 2;
    }
    try {
        const strata::image_info info = strata::inspect(argv[1]);
        std::printf("strata %s: %dx%d, %d bands\n", std::string(strata::version()).c_str(), info.width, info.height,
                    info.bands);
    } catch (const strata::error& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
        return 1;
    }
    return 0;
}
