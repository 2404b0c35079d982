// result_stream<R>: the results of pool::imap / imap_unordered, produced
// while they are read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "strata/future.hpp"

namespace strata {

namespace detail {

/// The engine behind result_stream: keeps up to `window` chunks in flight.
template <class R>
class result_stream_state {
public:
    result_stream_state(std::function<std::shared_ptr<future_state>()> next_chunk, std::size_t window, bool ordered)
        : next_chunk_(std::move(next_chunk)), window_(window), ordered_(ordered) {}

    std::optional<R> next() {
        while (buffered_.empty()) {
            refill();
            if (in_flight_.empty()) return std::nullopt;
            std::shared_ptr<future_state> done;
            if (ordered_) {
                done = std::move(in_flight_.front());
                in_flight_.pop_front();
            } else {
                const auto taken = watched_.find(*arrivals_.next());
                done = std::move(taken->second);
                watched_.erase(taken);
                std::erase(in_flight_, done);
            }
            buffered_ = future<std::vector<R>>(done).get();
            buffered_position_ = 0;
            if (buffered_.empty()) buffered_.clear();
        }
        std::optional<R> value(std::move(buffered_[buffered_position_++]));
        if (buffered_position_ == buffered_.size()) buffered_.clear();
        return value;
    }

private:
    void refill() {
        while (!exhausted_ && in_flight_.size() < window_) {
            auto chunk = next_chunk_();
            if (!chunk) {
                exhausted_ = true;
                break;
            }
            if (!ordered_) {
                watched_.emplace(arrivals_.add(chunk), chunk);
            }
            in_flight_.push_back(std::move(chunk));
        }
    }

    std::function<std::shared_ptr<future_state>()> next_chunk_;
    std::size_t window_;
    bool ordered_;
    bool exhausted_ = false;
    std::deque<std::shared_ptr<future_state>> in_flight_;
    completion_list arrivals_;                            ///< unordered: chunks as they finish
    std::unordered_map<std::size_t, std::shared_ptr<future_state>> watched_;  ///< unordered: by position in arrivals_
    std::vector<R> buffered_;
    std::size_t buffered_position_ = 0;
};

}  // namespace detail

/// Results of imap / imap_unordered, produced while you read them: at most a
/// bounded number of chunks are in flight, so memory stays bounded for any
/// number of items. An input range; a failed item throws when reached.
template <class R>
class result_stream {
public:
    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(result_stream* owner) : owner_(owner) { advance(); }
        R& operator*() const { return *current_; }
        R* operator->() const { return &*current_; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_.has_value(); }

    private:
        void advance() { current_ = owner_->next(); }
        result_stream* owner_ = nullptr;
        mutable std::optional<R> current_;
    };

    explicit result_stream(std::shared_ptr<detail::result_stream_state<R>> state) : state_(std::move(state)) {}
    /// The next result, or nullopt at the end. Throws the item's failure.
    std::optional<R> next() { return state_->next(); }
    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() { return {}; }

private:
    std::shared_ptr<detail::result_stream_state<R>> state_;
};

}  // namespace strata
