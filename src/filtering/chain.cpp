// parse_chain: "name=value:param=value,name2" into filter steps, with errors
// that point at the offending text.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/detail/suggest.hpp"
#include "chain.hpp"
#include "strata/pipeline.hpp"

namespace strata {

namespace {

struct token {
    std::string_view text;
    std::size_t position;
};

// Splits `text` at `separator`, remembering where each piece starts.
std::vector<token> split(std::string_view text, char separator, std::size_t offset) {
    std::vector<token> pieces;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(separator, start);
        pieces.push_back({text.substr(start, end - start), offset + start});
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return pieces;
}

std::string_view trim(std::string_view text, std::size_t& position) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
        ++position;
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::string describe_range(const param_spec& param) {
    if (!param.choices.empty()) return fmt::format("one of {}", fmt::join(param.choices, ", "));
    return fmt::format("{} from {} to {}", param.integer ? "a whole number" : "a number", param.minimum, param.maximum);
}

double parse_value(const filter_spec& filter, const param_spec& param, std::string_view text, std::size_t position,
                   const std::string& chain) {
    auto fail = [&](const std::string& why) {
        throw chain_error(fmt::format("{}: parameter '{}' {}; accepted: {}", filter.name, param.name, why,
                                      describe_range(param)),
                          chain, position);
    };
    if (!param.choices.empty()) {
        const auto found = std::find(param.choices.begin(), param.choices.end(), text);
        if (found == param.choices.end()) fail(fmt::format("cannot be '{}'", text));
        return static_cast<double>(found - param.choices.begin());
    }
    double value = 0;
    const auto [stop, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || problem != std::errc{} || stop != text.data() + text.size() || !std::isfinite(value)) {
        fail(fmt::format("'{}' is not a number", text));
    }
    if (param.integer && value != std::floor(value)) fail(fmt::format("{} is not a whole number", text));
    if (value < param.minimum || value > param.maximum) fail(fmt::format("{} is out of range", text));
    return value;
}

// The first value of a filter that takes a size, when it is one: "256"
// (a 256x256 box, for filters whose first parameter is width), "512x384",
// "512x", "x384", each with ^ (cover), ! (exact) or > (only shrink), or
// "50%". Sets the parameters it stands for; false when `text` is a plain
// number for the first parameter.
bool take_size(const filter_spec& filter, std::string_view text, std::size_t position, const std::string& chain,
               std::vector<double>& values, std::vector<bool>& given) {
    const bool boxes = !filter.params.empty() && filter.params.front().name == "width";  // "256" is a box
    const auto fail = [&](const std::string& why) {
        throw chain_error(fmt::format("{}: {}; accepted: {}512x384, 512x or x384, each may end in ^ (cover the box), "
                                      "! (exactly that size) or > (only shrink), or a percentage as in 50%",
                                      filter.name, why, boxes ? "256, " : ""),
                          chain, position);
    };
    const auto set = [&](std::string_view name, std::string_view value) {
        const auto found = std::find_if(filter.params.begin(), filter.params.end(),
                                        [&](const param_spec& p) { return p.name == name; });
        if (found == filter.params.end()) fail(fmt::format("'{}' is not a size it takes", text));
        const auto index = static_cast<std::size_t>(found - filter.params.begin());
        values[index] = parse_value(filter, *found, value, position, chain);
        given[index] = true;
    };
    const bool plain = !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos;
    if (plain) {
        if (!boxes) return false;
        set("width", text);
        set("height", text);
        return true;
    }
    if (text.ends_with('%')) {
        const std::string_view percent = text.substr(0, text.size() - 1);
        double value = 0;
        const auto [stop, problem] = std::from_chars(percent.data(), percent.data() + percent.size(), value);
        if (percent.empty() || problem != std::errc{} || stop != percent.data() + percent.size() || !(value > 0)) {
            fail(fmt::format("'{}' is not a size", text));
        }
        set("scale", fmt::format("{}", value / 100));
        return true;
    }
    std::string_view box = text;
    std::string_view fit = "inside";
    bool only_shrink = false;
    while (!box.empty() && std::string_view("^!><").find(box.back()) != std::string_view::npos) {
        const char modifier = box.back();
        box.remove_suffix(1);
        if (modifier == '<') fail(fmt::format("'{}': '<' (only enlarge) is not supported", text));
        if (modifier == '>') {
            only_shrink = true;
        } else if (fit != "inside") {
            fail(fmt::format("'{}' asks for two fits; give ^ or !", text));
        } else {
            fit = modifier == '^' ? "outside" : "fill";
        }
    }
    const std::size_t cross = box.find('x');
    if (cross == std::string_view::npos || box.find('x', cross + 1) != std::string_view::npos) {
        if (box.empty() || box.find_first_not_of("0123456789") != std::string_view::npos ||
            !boxes) {
            fail(fmt::format("'{}' is not a size", text));
        }
        set("width", box);  // "256>": a 256x256 box
        set("height", box);
    } else {
        const std::string_view width = box.substr(0, cross);
        const std::string_view height = box.substr(cross + 1);
        if (width.empty() && height.empty()) fail(fmt::format("'{}' gives neither width nor height", text));
        for (const auto side : {width, height}) {
            if (side.find_first_not_of("0123456789") != std::string_view::npos) fail(fmt::format("'{}' is not a size", text));
        }
        set("width", width.empty() ? "0" : width);
        set("height", height.empty() ? "0" : height);
        const auto is_zero = [](std::string_view side) { return side.find_first_not_of('0') == std::string_view::npos; };
        if (is_zero(width) && is_zero(height)) fail(fmt::format("'{}' gives neither width nor height", text));
    }
    // A fit or upscale the text does not spell out may still be given by name.
    const auto index_of = [&](std::string_view name) {
        return static_cast<std::size_t>(std::find_if(filter.params.begin(), filter.params.end(),
                                                     [&](const param_spec& p) { return p.name == name; }) -
                                        filter.params.begin());
    };
    set("fit", fit);
    if (fit == "inside") given[index_of("fit")] = false;
    if (only_shrink) set("upscale", "0");
    return true;
}

}  // namespace

filter_chain parse_chain(std::string_view text) {
    filter_chain chain;
    chain.text = std::string(text);
    // No chain at all: decode and encode only.
    if (std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        return chain;
    }
    for (const auto& step_token : split(text, ',', 0)) {
        std::size_t position = step_token.position;
        const std::string_view step_text = trim(step_token.text, position);
        if (step_text.empty()) throw chain_error("empty filter step", chain.text, position);

        const std::size_t equals = step_text.find('=');
        const std::string_view name = step_text.substr(0, equals);
        const filter_spec* filter = find_filter(name);
        if (filter == nullptr) {
            std::vector<std::string> names;
            for (const auto* f : all_filters()) names.push_back(f->name);
            const auto close = detail::closest_names(name, names);
            throw chain_error(close.empty() ? fmt::format("unknown filter '{}'; run 'strata filters' for the list", name)
                                            : fmt::format("unknown filter '{}'; did you mean {}?", name,
                                                          fmt::join(close, " or ")),
                              chain.text, position);
        }
        std::vector<double> values;
        std::vector<bool> given(filter->params.size(), false);
        for (const auto& param : filter->params) values.push_back(param.default_value);

        if (equals != std::string_view::npos) {
            std::size_t next_positional = 0;
            for (const auto& setting : split(step_text.substr(equals + 1), ':', position + equals + 1)) {
                std::size_t at = setting.position;
                const std::string_view item = trim(setting.text, at);
                const std::size_t inner = item.find('=');
                std::size_t index = 0;
                std::string_view value_text = item;
                std::size_t value_position = at;
                if (inner == std::string_view::npos) {
                    index = next_positional++;
                    if (index >= filter->params.size()) {
                        throw chain_error(fmt::format("{}: takes {} parameter{}, and '{}' is one more", filter->name,
                                                      filter->params.size(), filter->params.size() == 1 ? "" : "s", item),
                                          chain.text, at);
                    }
                } else {
                    const std::string_view key = item.substr(0, inner);
                    const auto found = std::find_if(filter->params.begin(), filter->params.end(),
                                                    [&](const param_spec& p) { return p.name == key; });
                    if (found == filter->params.end()) {
                        std::vector<std::string> names;
                        for (const auto& p : filter->params) names.push_back(p.name);
                        throw chain_error(fmt::format("{}: no parameter '{}'; it takes {}", filter->name, key,
                                                      names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))),
                                          chain.text, at);
                    }
                    index = static_cast<std::size_t>(found - filter->params.begin());
                    value_text = item.substr(inner + 1);
                    value_position = at + inner + 1;
                }
                if (given[index]) {
                    throw chain_error(fmt::format("{}: parameter '{}' given twice", filter->name, filter->params[index].name),
                                      chain.text, at);
                }
                if (index == 0 && inner == std::string_view::npos && filter->takes_size &&
                    take_size(*filter, value_text, value_position, chain.text, values, given)) {
                    next_positional = filter->params.size();  // a size is the only value without a name
                    continue;
                }
                given[index] = true;
                values[index] = parse_value(*filter, filter->params[index], value_text, value_position, chain.text);
            }
        }
        filter_args args(&filter->params, std::move(values));
        if (filter->check) {
            try {
                filter->check(args);
            } catch (const error& e) {
                throw chain_error(fmt::format("{}: {}", filter->name, e.what()), chain.text, position);
            }
        }
        chain.steps.push_back({filter, std::move(args), position});
    }
    return chain;
}

filter_chain detail::sub_chain(const filter_chain& chain, std::size_t first, std::size_t last) {
    last = std::min(last, chain.steps.size());
    filter_chain part;
    if (first >= last) return part;
    const std::size_t from = chain.steps[first].position;
    std::size_t to = last < chain.steps.size() ? chain.steps[last].position : chain.text.size();
    // Back over the ',' that ends the last step kept, and blanks around it.
    if (last < chain.steps.size()) {
        while (to > from && chain.text[to - 1] != ',') --to;
        if (to > from) --to;
    }
    part.text = chain.text.substr(from, to - from);
    for (std::size_t i = first; i < last; ++i) {
        part.steps.push_back(chain.steps[i]);
        part.steps.back().position -= from;
    }
    return part;
}

}  // namespace strata
