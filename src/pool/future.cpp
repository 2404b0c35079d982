// future_state: where a task's outcome lands; completion callbacks and lists; wait / as_completed.
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <exception>
#include <system_error>

#include <fmt/format.h>

#include "strata/future.hpp"

namespace strata {

namespace detail {

std::vector<int> duplicate_fds(const std::vector<int>& fds) {
    std::vector<int> copies;
    for (const int fd : fds) {
        const int copy = fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0 && copy < 0) {
            const int saved = errno;
            close_fds(copies);
            throw std::system_error(saved, std::generic_category(), "duplicating a result descriptor");
        }
        copies.push_back(copy);
    }
    return copies;
}

void close_fds(std::vector<int>& fds) noexcept {
    for (int& fd : fds) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
}

future_state::~future_state() { close_fds(fds); }

bool future_state::finished() {
    std::lock_guard lock(mutex);
    return finished_locked();
}

void future_state::wait() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return finished_locked(); });
}

bool future_state::wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    return changed.wait_until(lock, deadline, [&] { return finished_locked(); });
}

void future_state::finish(task_status outcome, std::exception_ptr error, std::vector<std::byte> bytes,
                          std::vector<int> result_fds, std::uint64_t tag) {
    std::vector<std::function<void()>> callbacks;
    {
        std::lock_guard lock(mutex);
        if (finished_locked()) {
            close_fds(result_fds);
            return;
        }
        status = outcome;
        failure = std::move(error);
        result = std::move(bytes);
        fds = std::move(result_fds);
        result_tag = tag;
        cancel_hook = nullptr;
        callbacks.swap(on_finish);
    }
    changed.notify_all();
    if (deferred_callbacks::hold(callbacks)) return;
    for (auto& callback : callbacks) callback();
}

namespace {
thread_local deferred_callbacks* deferring = nullptr;
}  // namespace

deferred_callbacks::deferred_callbacks() noexcept : outer_(deferring) { deferring = this; }

deferred_callbacks::~deferred_callbacks() {
    run();
    deferring = outer_;
}

void deferred_callbacks::run() noexcept {
    while (!held_.empty()) {
        std::vector<std::function<void()>> now;
        now.swap(held_);
        for (auto& callback : now) {
            try {
                callback();
            } catch (...) {
                // Callbacks of strata's own do not throw; on_done's catch their own.
            }
        }
    }
}

bool deferred_callbacks::hold(std::vector<std::function<void()>>& callbacks) {
    if (deferring == nullptr) return false;
    for (auto& callback : callbacks) deferring->held_.push_back(std::move(callback));
    return true;
}

void future_state::when_finished(std::function<void()> callback) {
    {
        std::lock_guard lock(mutex);
        if (!finished_locked()) {
            on_finish.push_back(std::move(callback));
            return;
        }
    }
    callback();
}

bool future_state::cancel() {
    std::function<bool()> hook;
    {
        std::lock_guard lock(mutex);
        if (finished_locked()) return false;
        hook = cancel_hook;
    }
    return hook && hook();
}

void future_state::rethrow_if_unsuccessful() {
    std::lock_guard lock(mutex);
    if (status == task_status::cancelled) throw usage_error("task '" + task_name + "' was cancelled; it has no result");
    if (status == task_status::failed && failure) std::rethrow_exception(failure);
}

std::shared_ptr<future_state> future_state::combine(std::string task, std::vector<std::shared_ptr<future_state>> parts) {
    auto whole = std::make_shared<future_state>();
    whole->task_name = std::move(task);
    whole->composite = true;
    whole->parts = parts;
    whole->parts_left = parts.size();
    std::vector<std::weak_ptr<future_state>> weak_parts(parts.begin(), parts.end());
    whole->cancel_hook = [weak_parts] {
        bool any = false;
        for (const auto& weak : weak_parts) {
            if (auto part = weak.lock(); part && part->cancel()) any = true;
        }
        return any;
    };
    if (parts.empty()) {
        whole->finish(task_status::succeeded, nullptr);
        return whole;
    }
    std::weak_ptr<future_state> weak_whole = whole;
    for (const auto& part : parts) {
        part->when_finished([weak_whole] {
            auto composite = weak_whole.lock();
            if (!composite) return;
            {
                std::lock_guard lock(composite->mutex);
                if (--composite->parts_left != 0) return;
            }
            // Every part is done: the first failure in order decides.
            for (const auto& piece : composite->parts) {
                task_status status;
                std::exception_ptr failure;
                {
                    std::lock_guard lock(piece->mutex);
                    status = piece->status;
                    failure = piece->failure;
                }
                if (status == task_status::failed || status == task_status::cancelled) {
                    composite->finish(status, failure);
                    return;
                }
            }
            composite->finish(task_status::succeeded, nullptr);
        });
    }
    return whole;
}

void completion_callback::run() noexcept {
    std::function<void()> callback;
    {
        std::lock_guard lock(mutex_);
        if (dismissed_ || !callback_) return;
        callback.swap(callback_);
        runner_ = std::this_thread::get_id();
    }
    try {
        callback();
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata: a completion callback threw (dropped): {}\n", e.what());
    } catch (...) {
        fmt::print(stderr, "strata: a completion callback threw (dropped)\n");
    }
    callback = nullptr;  // what it captured goes before a dismissal returns
    {
        std::lock_guard lock(mutex_);
        runner_.reset();
    }
    returned_.notify_all();
}

void completion_callback::dismiss() noexcept {
    std::unique_lock lock(mutex_);
    dismissed_ = true;
    callback_ = nullptr;
    // A callback that dismisses its own hook must not wait for itself.
    returned_.wait(lock, [&] { return !runner_ || *runner_ == std::this_thread::get_id(); });
}

struct completion_list::arrivals {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::size_t> finished;
    std::size_t count = 0;
};

completion_list::completion_list() : arrivals_(std::make_shared<arrivals>()) {}

std::size_t completion_list::add(const std::shared_ptr<future_state>& state) {
    const std::size_t position = added_;
    state->when_finished([queue = arrivals_, position] {
        std::lock_guard lock(queue->mutex);
        queue->finished.push_back(position);
        ++queue->count;
        queue->changed.notify_all();
    });
    ++added_;
    return position;
}

std::optional<std::size_t> completion_list::next(std::chrono::steady_clock::time_point deadline) {
    if (pending() == 0) throw usage_error("every future added has already been returned");
    std::unique_lock lock(arrivals_->mutex);
    const auto arrived = [&] { return !arrivals_->finished.empty(); };
    if (deadline == std::chrono::steady_clock::time_point::max()) {
        arrivals_->changed.wait(lock, arrived);
    } else if (!arrivals_->changed.wait_until(lock, deadline, arrived)) {
        return std::nullopt;
    }
    const std::size_t position = arrivals_->finished.front();
    arrivals_->finished.pop_front();
    ++returned_;
    return position;
}

std::size_t completion_list::finished() const {
    std::lock_guard lock(arrivals_->mutex);
    return arrivals_->count;
}

std::vector<std::size_t> completion_order(const std::vector<std::shared_ptr<future_state>>& states,
                                          std::function<bool(std::size_t)> visit) {
    completion_list list;
    for (const auto& state : states) list.add(state);
    std::vector<std::size_t> order;
    while (list.pending() > 0) {
        order.push_back(*list.next());
        if (!visit(order.back())) break;
    }
    return order;
}

wait_result wait_states(const std::vector<std::shared_ptr<future_state>>& states, return_when condition,
                        std::chrono::steady_clock::time_point deadline) {
    completion_list list;
    for (const auto& state : states) list.add(state);
    while (list.pending() > 0) {
        const auto position = list.next(deadline);
        if (!position) break;
        if (condition == return_when::first_completed) break;
        if (condition == return_when::first_exception) {
            std::lock_guard lock(states[*position]->mutex);
            if (states[*position]->status == task_status::failed) break;
        }
    }
    wait_result result;
    for (std::size_t i = 0; i < states.size(); ++i) {
        (states[i]->finished() ? result.done : result.not_done).push_back(i);
    }
    return result;
}

}  // namespace detail

}  // namespace strata
