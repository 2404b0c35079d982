// Edit distance (optimal string alignment) and nearest-name suggestions.
#include "strata/detail/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace strata::detail {

namespace {

char fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t rows = a.size() + 1;
    const std::size_t cols = b.size() + 1;
    std::vector<std::size_t> d(rows * cols);
    auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * cols + j]; };
    for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
    for (std::size_t j = 0; j < cols; ++j) at(0, j) = j;
    for (std::size_t i = 1; i < rows; ++i) {
        for (std::size_t j = 1; j < cols; ++j) {
            const std::size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1])) {
                at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
            }
        }
    }
    return at(rows - 1, cols - 1);
}

std::vector<std::string> closest_names(std::string_view word, const std::vector<std::string>& candidates) {
    // Allow roughly one edit per three characters, at least one.
    const std::size_t allowed = std::max<std::size_t>(1, word.size() / 3);
    std::vector<std::pair<std::size_t, std::string>> scored;
    for (const auto& name : candidates) {
        const bool prefix = !word.empty() && name.size() > word.size() &&
                            std::equal(word.begin(), word.end(), name.begin(),
                                       [](char x, char y) { return fold(x) == fold(y); });
        const std::size_t distance = prefix ? 0 : edit_distance(word, name);
        if (distance <= allowed) scored.emplace_back(distance, name);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::string> names;
    for (auto& entry : scored) names.push_back(std::move(entry.second));
    return names;
}

}  // namespace strata::detail
