// `strata filters [NAME]`: the filter catalogue, or one filter's parameters.
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command.hpp"
#include "strata/detail/suggest.hpp"
#include "strata/filter_spec.hpp"

namespace strata::cli {

namespace {

const char* kind_name(filter_kind kind) {
    switch (kind) {
    case filter_kind::point: return "point";
    case filter_kind::neighbourhood: return "neighbourhood";
    case filter_kind::geometry: return "geometry";
    }
    return "?";
}

int show_filter(const filter_spec& filter) {
    fmt::print("{} ({} filter)\n  {}\n", filter.name, kind_name(filter.kind), filter.summary);
    if (filter.params.empty()) {
        fmt::print("parameters: none\n");
    } else {
        fmt::print("parameters (the first may be given without its name):\n");
        for (const auto& param : filter.params) {
            const std::string range = param.choices.empty()
                                          ? fmt::format("{} {} to {}", param.integer ? "whole number" : "number",
                                                        param.minimum, param.maximum)
                                          : fmt::format("one of {}", fmt::join(param.choices, ", "));
            const std::string fallback = param.choices.empty()
                                             ? fmt::format("{}", param.default_value)
                                             : param.choices.at(static_cast<std::size_t>(param.default_value));
            fmt::print("  {:<10} {} ({}; default {})\n", param.name, param.summary, range, fallback);
        }
    }
    fmt::print("example: strata apply in.jpg out.jpg -f '{}'\n", filter.example);
    return exit_ok;
}

int run_filters(const std::string& name) {
    const auto filters = all_filters();
    if (name.empty()) {
        for (const auto* filter : filters) fmt::print("{:<12} {}\n", filter->name, filter->summary);
        return exit_ok;
    }
    if (const filter_spec* filter = find_filter(name)) return show_filter(*filter);
    std::vector<std::string> names;
    for (const auto* filter : filters) names.push_back(filter->name);
    const auto close = detail::closest_names(name, names);
    fmt::print(stderr, "strata filters: unknown filter '{}'{}\n", name,
               close.empty() ? std::string("; run 'strata filters' for the list")
                             : fmt::format("; did you mean {}?", fmt::join(close, " or ")));
    return exit_usage;
}

runner setup_filters(CLI::App& sub) {
    auto name = std::make_shared<std::string>();
    sub.add_option("name", *name, "Show this filter's parameters, defaults, ranges and an example");
    return [name] { return run_filters(*name); };
}

STRATA_COMMAND("filters", "List the filters, or show one filter's parameters", setup_filters);

}  // namespace

}  // namespace strata::cli
