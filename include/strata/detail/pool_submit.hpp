// How the pool's templates turn calls into messages: one task, chunks of
// items (map / starmap), or a lazily read stream of chunks (imap). Not for
// direct use: the public face is strata::pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "strata/codec.hpp"
#include "strata/export.hpp"
#include "strata/future.hpp"
#include "strata/result_stream.hpp"
#include "strata/task.hpp"

namespace strata::detail {

class pool_core;

/// What a submitted message asks a worker to do.
enum class submission { one, chunk, star_chunk };

/// Queues an encoded call on `core`; usage_error if there is none (a pool
/// that was moved from) or it is closed.
STRATA_API std::shared_ptr<future_state> submit_to(const std::shared_ptr<pool_core>& core, submission kind,
                                                   std::string_view name, writer payload);

/// About four chunks per worker.
inline std::size_t auto_chunksize(std::size_t items, unsigned workers) noexcept {
    const std::size_t chunks = 4 * std::max<std::size_t>(1, workers);
    return std::max<std::size_t>(1, (items + chunks - 1) / chunks);
}

/// map / starmap: `items` in chunks of `chunksize` (0: auto_chunksize), one
/// future over all of them.
template <class R, class Item, bool star, class Items>
future<std::vector<stored_result<R>>> submit_chunked(const std::shared_ptr<pool_core>& core, unsigned workers,
                                                     std::string_view name, Items&& items, std::size_t chunksize) {
    // Items already laid out as Items are encoded straight from the caller's memory.
    constexpr bool direct =
        std::ranges::contiguous_range<Items> && std::is_same_v<std::ranges::range_value_t<Items>, Item>;
    std::vector<Item> copied;
    if constexpr (!direct) {
        if constexpr (std::ranges::sized_range<Items>) copied.reserve(std::ranges::size(items));
        for (auto&& item : items) copied.push_back(Item(std::forward<decltype(item)>(item)));
    }
    const std::span<const Item> all = [&] {
        if constexpr (direct) {
            return std::span<const Item>(std::ranges::data(items), std::ranges::size(items));
        } else {
            return std::span<const Item>(copied);
        }
    }();
    if (chunksize == 0) chunksize = auto_chunksize(all.size(), workers);
    std::vector<std::shared_ptr<future_state>> parts;
    for (std::size_t first = 0; first < all.size(); first += chunksize) {
        const std::size_t last = std::min(all.size(), first + chunksize);
        writer w;
        const std::uint64_t n = last - first;
        w.raw(&n, sizeof n);
        if constexpr (bitwise<Item> && !std::is_same_v<Item, bool>) {
            w.raw(all.data() + first, (last - first) * sizeof(Item));
        } else {
            for (std::size_t i = first; i < last; ++i) w.put(all[i]);
        }
        parts.push_back(submit_to(core, star ? submission::star_chunk : submission::chunk, name, std::move(w)));
    }
    return future<std::vector<stored_result<R>>>(future_state::combine(std::string(name), std::move(parts)));
}

/// imap / imap_unordered: reads `items` lazily, `chunksize` at a time, with
/// at most 2 x workers + 1 chunks in flight. The stream keeps the engine
/// alive, not the pool object (which may move).
template <class R, class Item, class Items>
result_stream<stored_result<R>> submit_streamed(const std::shared_ptr<pool_core>& core, unsigned workers,
                                                std::string_view name, Items&& items, std::size_t chunksize,
                                                bool ordered) {
    if (chunksize == 0) chunksize = 1;
    auto source = std::make_shared<std::decay_t<decltype(std::views::all(std::forward<Items>(items)))>>(
        std::views::all(std::forward<Items>(items)));
    auto position = std::make_shared<std::ranges::iterator_t<decltype(*source)>>(std::ranges::begin(*source));
    auto next_chunk = [core, source, position, task_name = std::string(name),
                       chunksize]() -> std::shared_ptr<future_state> {
        std::vector<Item> chunk;
        while (chunk.size() < chunksize && *position != std::ranges::end(*source)) {
            chunk.push_back(Item(**position));
            ++*position;
        }
        if (chunk.empty()) return nullptr;
        writer w;
        w.put(chunk);
        return submit_to(core, submission::chunk, task_name, std::move(w));
    };
    return result_stream<stored_result<R>>(std::make_shared<result_stream_state<stored_result<R>>>(
        std::move(next_chunk), 2 * static_cast<std::size_t>(workers) + 1, ordered));
}

}  // namespace strata::detail
