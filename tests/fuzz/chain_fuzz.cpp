// Fuzz target: the filter-chain parser, and the chains it accepts run on a
// small image. Parsing either succeeds with every value inside its declared
// range, or fails with chain_error pointing inside the text; a parsed chain
// spelled out again parses to the same values; run on 1 or 3 strips it
// gives the same pixels.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "strata/pipeline.hpp"

namespace {

[[noreturn]] void fail(const std::string& what) {
    fmt::print(stderr, "chain_fuzz: {}\n", what);
    std::abort();
}

// The chain in canonical spelling: every parameter named, values exact.
std::string spelled_out(const strata::filter_chain& chain) {
    std::string text;
    for (const auto& step : chain.steps) {
        if (!text.empty()) text += ',';
        text += step.filter->name;
        const auto& params = step.filter->params;
        for (std::size_t i = 0; i < params.size(); ++i) {
            const double value = step.args.values()[i];
            const std::string shown = params[i].choices.empty() ? fmt::format("{}", value)
                                                                : params[i].choices.at(static_cast<std::size_t>(value));
            text += fmt::format("{}{}={}", i == 0 ? '=' : ':', params[i].name, shown);
        }
    }
    return text;
}

void check_values(const strata::filter_chain& chain, std::string_view text) {
    std::size_t previous = 0;
    for (const auto& step : chain.steps) {
        if (step.position > text.size() || step.position < previous) fail("a step's position is outside the text");
        previous = step.position;
        const auto& params = step.filter->params;
        if (step.args.values().size() != params.size()) fail("a step has the wrong number of values");
        for (std::size_t i = 0; i < params.size(); ++i) {
            const double value = step.args.values()[i];
            const auto& p = params[i];
            if (!std::isfinite(value)) fail(fmt::format("{}: {} is not finite", step.filter->name, p.name));
            if (!p.choices.empty()) {
                if (value < 0 || value >= static_cast<double>(p.choices.size()) || value != std::floor(value)) {
                    fail(fmt::format("{}: {} is not a choice index", step.filter->name, p.name));
                }
            } else if (value < p.minimum || value > p.maximum || (p.integer && value != std::floor(value))) {
                fail(fmt::format("{}: {} = {} is outside its range", step.filter->name, p.name, value));
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    strata::filter_chain chain;
    try {
        chain = strata::parse_chain(text);
    } catch (const strata::chain_error& e) {
        if (e.position() > text.size()) fail("chain_error points past the text");
        return 0;
    }
    check_values(chain, text);

    const std::string again = spelled_out(chain);
    strata::filter_chain reparsed;
    try {
        reparsed = strata::parse_chain(again);
    } catch (const strata::chain_error& e) {
        fail(fmt::format("'{}' spelled out as '{}' does not parse: {}", text, again, e.what()));
    }
    if (reparsed.steps.size() != chain.steps.size()) fail("spelled out, the chain has another number of steps");
    for (std::size_t i = 0; i < chain.steps.size(); ++i) {
        if (reparsed.steps[i].filter != chain.steps[i].filter ||
            reparsed.steps[i].args.values() != chain.steps[i].args.values()) {
            fail(fmt::format("'{}' spelled out as '{}' parses to other values", text, again));
        }
    }

    // Run it on a small RGB image, unless its geometry steps would make a
    // large one (resize accepts sizes far beyond what a fuzzer should
    // allocate). A chain that does not fit the image (a crop outside it) is
    // a strata::error, as it is for users.
    strata::image input({.width = 9, .height = 7, .bands = 3, .type = strata::sample_type::u8});
    for (int y = 0; y < input.height(); ++y) {
        for (std::size_t x = 0; x < input.layout().row_bytes(); ++x) input.row(y)[x] = std::byte(x * 37 + y * 11);
    }
    try {
        strata::image_layout layout = input.layout();
        for (const auto& step : chain.steps) {
            layout = step.filter->output_layout(layout, step.args);
            if (layout.width <= 0 || layout.height <= 0) fail("a step's output layout is empty");
            if (layout.bytes() > (std::size_t{4} << 20)) return 0;
        }
        // The invariant: any strip count gives the whole image's result.
        const auto whole = strata::run_chain(chain, input, {.where = strata::backend::serial, .strips = 1});
        if (!(whole.layout() == layout)) fail("the result's layout differs from the one the steps declared");
        const auto strips = strata::run_chain(chain, input, {.where = strata::backend::serial, .strips = 3});
        if (!(strips.layout() == layout) ||
            std::memcmp(whole.pixels().data(), strips.pixels().data(), layout.bytes()) != 0) {
            fail(fmt::format("'{}' on 3 strips differs from the whole image", text));
        }
    } catch (const strata::error&) {
    }
    return 0;
}
