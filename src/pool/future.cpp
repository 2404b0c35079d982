// future_state: where a task's outcome lands; the pool errors; wait / as_completed.
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <system_error>

#include <fmt/format.h>

#include "strata/future.hpp"

namespace strata {

remote_error::remote_error(std::string task, int pid, std::string type, std::string message)
    : error(fmt::format("task '{}' raised {} in worker {}: {}", task, type, pid, message)),
      task_(std::move(task)),
      type_(std::move(type)),
      message_(std::move(message)),
      pid_(pid) {}

worker_lost::worker_lost(std::string task, int pid, std::string how)
    : error(fmt::format("task '{}' lost its worker {}, which {}", task, pid, how)),
      task_(std::move(task)),
      how_(std::move(how)),
      pid_(pid) {}

task_timeout::task_timeout(std::string task, int pid, std::chrono::milliseconds limit)
    : error(fmt::format("task '{}' ran over its timeout of {} ms; worker {} was killed", task, limit.count(), pid)),
      task_(std::move(task)),
      pid_(pid),
      limit_(limit) {}

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
    for (auto& callback : callbacks) callback();
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

namespace {

// Collects finish notifications from many states into one queue.
struct completion_queue {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::size_t> finished;
};

std::shared_ptr<completion_queue> watch(const std::vector<std::shared_ptr<future_state>>& states) {
    auto queue = std::make_shared<completion_queue>();
    for (std::size_t i = 0; i < states.size(); ++i) {
        states[i]->when_finished([queue, i] {
            std::lock_guard lock(queue->mutex);
            queue->finished.push_back(i);
            queue->changed.notify_all();
        });
    }
    return queue;
}

}  // namespace

std::vector<std::size_t> completion_order(const std::vector<std::shared_ptr<future_state>>& states,
                                          std::function<bool(std::size_t)> visit) {
    auto queue = watch(states);
    std::vector<std::size_t> order;
    while (order.size() < states.size()) {
        std::size_t index = 0;
        {
            std::unique_lock lock(queue->mutex);
            queue->changed.wait(lock, [&] { return !queue->finished.empty(); });
            index = queue->finished.front();
            queue->finished.pop_front();
        }
        order.push_back(index);
        if (!visit(index)) break;
    }
    return order;
}

wait_result wait_states(const std::vector<std::shared_ptr<future_state>>& states, return_when condition,
                        std::chrono::steady_clock::time_point deadline) {
    auto queue = watch(states);
    auto satisfied = [&] {
        if (queue->finished.size() == states.size()) return true;
        if (condition == return_when::first_completed) return !queue->finished.empty();
        if (condition == return_when::first_exception) {
            return std::any_of(queue->finished.begin(), queue->finished.end(), [&](std::size_t i) {
                std::lock_guard lock(states[i]->mutex);
                return states[i]->status == task_status::failed;
            });
        }
        return false;
    };
    {
        std::unique_lock lock(queue->mutex);
        if (deadline == std::chrono::steady_clock::time_point::max()) {
            queue->changed.wait(lock, satisfied);
        } else {
            queue->changed.wait_until(lock, deadline, satisfied);
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
