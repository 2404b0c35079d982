// parse_chain: "name=value:param=value,name2" into filter steps, with errors
// that point at the offending text.
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/detail/suggest.hpp"
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

}  // namespace

filter_chain parse_chain(std::string_view text) {
    filter_chain chain;
    chain.text = std::string(text);
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
                given[index] = true;
                values[index] = parse_value(*filter, filter->params[index], value_text, value_position, chain.text);
            }
        }
        chain.steps.push_back({filter, filter_args(&filter->params, std::move(values)), position});
    }
    return chain;
}

}  // namespace strata
