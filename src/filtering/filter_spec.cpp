// The filter registry (filled by STRATA_FILTER in filters/*.cpp), filter_args, chain_error.
#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "strata/filter_spec.hpp"
#include "strata/future.hpp"

namespace strata {

namespace {

struct registry {
    std::mutex mutex;
    std::map<std::string, filter_spec, std::less<>> filters;
};

registry& filters() {
    static registry instance;
    return instance;
}

// "  gaussblur=sigma=x,invert\n            ^"
std::string excerpt(const std::string& chain, std::size_t position) {
    return fmt::format("\n  {}\n  {}^", chain, std::string(std::min(position, chain.size()), ' '));
}

}  // namespace

bool register_filter(filter_spec spec) {
    auto& r = filters();
    std::lock_guard lock(r.mutex);
    const std::string name = spec.name;
    r.filters.insert_or_assign(name, std::move(spec));
    return true;
}

const filter_spec* find_filter(std::string_view name) {
    auto& r = filters();
    std::lock_guard lock(r.mutex);
    const auto found = r.filters.find(name);
    return found == r.filters.end() ? nullptr : &found->second;
}

std::vector<const filter_spec*> all_filters() {
    auto& r = filters();
    std::lock_guard lock(r.mutex);
    std::vector<const filter_spec*> all;
    for (const auto& [name, spec] : r.filters) all.push_back(&spec);
    return all;
}

std::size_t filter_args::index(std::string_view name) const {
    if (specs_ != nullptr) {
        for (std::size_t i = 0; i < specs_->size(); ++i) {
            if ((*specs_)[i].name == name) return i;
        }
    }
    throw usage_error(fmt::format("filter has no parameter '{}'", name));
}

double filter_args::number(std::string_view name) const { return values_.at(index(name)); }

const std::string& filter_args::choice(std::string_view name) const {
    const std::size_t i = index(name);
    return (*specs_)[i].choices.at(static_cast<std::size_t>(values_.at(i)));
}

chain_error::chain_error(std::string message, std::string chain, std::size_t position)
    : error(message + excerpt(chain, position)), message_(std::move(message)), chain_(std::move(chain)), position_(position) {}

}  // namespace strata
