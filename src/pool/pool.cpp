// The pool engine: a dispatcher thread that starts workers, hands them tasks,
// collects results, and turns deaths and timeouts into failed futures.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "fork_server.hpp"
#include "message.hpp"
#include "strata/pool.hpp"
#include "syscall.hpp"
#include "worker.hpp"

namespace strata::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t max_window = 64;  // tasks queued at one worker when many short ones wait
constexpr auto grace_period = std::chrono::milliseconds(1000);
// reap(): the worker ended, but how cannot be known.
constexpr int exit_status_unknown = -2;

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) {
        const int signal_number = WTERMSIG(status);
        return fmt::format("was killed by signal {} ({})", signal_number, ::strsignal(signal_number));
    }
    if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
    return "stopped";
}

// Signals through the pidfd where there is one, so a recycled pid is never hit.
void send_signal(pid_t pid, int pidfd, int signal_number) {
    if (pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0) == 0) return;
    if (pidfd < 0) ::kill(pid, signal_number);
}

std::pair<std::string, std::string> decode_failure(const message& m) {
    reader in(m.payload().data(), m.payload().size());
    std::string type = in.get<std::string>();
    std::string text = in.get<std::string>();
    return {std::move(type), std::move(text)};
}

}  // namespace

struct task_record {
    std::uint64_t id = 0;
    std::string name;
    packet_part packet;
    std::shared_ptr<future_state> state;
    clock::time_point started{};
};

struct worker_process {
    pid_t pid = -1;
    int channel = -1;
    int pidfd = -1;
    bool ready = false;     ///< said hello
    bool forked = false;    ///< a child of the fork server, which reaps it
    bool stopping = false;  ///< told to stop (retiring or shutting down)
    clock::time_point launched;
    std::deque<std::shared_ptr<task_record>> in_flight;  ///< front is running
    std::size_t sent = 0;                                ///< in_flight[0, sent) are sent
    unsigned assigned = 0;
};

class pool_core {
public:
    explicit pool_core(pool_options options);
    ~pool_core();

    std::shared_ptr<future_state> submit(message_kind kind, std::string_view name, writer payload);
    void close();
    void join();
    void terminate();
    unsigned size() const noexcept { return options_.processes; }
    pool_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }
    std::vector<int> worker_pids() const {
        std::lock_guard lock(mutex_);
        std::vector<int> pids;
        for (const auto& w : workers_) pids.push_back(w->pid);
        return pids;
    }

private:
    enum class phase { running, closing, terminating, finished };

    void dispatch();
    void wake() noexcept;
    bool cancel(std::uint64_t id);

    // All below run with mutex_ held, on the dispatcher thread (can_take
    // and give_next on a submitting thread too).
    void launch_worker();
    void assign_tasks();
    /// True if `w` may take another task now, given at most `window` in flight.
    bool can_take(const worker_process& w, std::size_t window) const;
    /// Moves the oldest pending task to `w`.
    void give_next(worker_process& w);
    void flush(worker_process& w);
    void receive(worker_process& w);
    void handle_message(worker_process& w, message& m);
    void lose_worker(worker_process& w, const std::string& how_if_unknown, bool timed_out);
    void retire_finished_workers();
    void fail_everything(std::exception_ptr failure);
    void shut_down_workers(bool forceful);
    void remove_worker(worker_process& w);
    /// The worker's wait status, -1 while it runs, or exit_status_unknown.
    int reap(worker_process& w, bool block);
    void break_pool(std::exception_ptr failure);
    /// The fork server ended: spawn workers from now on, or throw start_error.
    void replace_fork_server();

    pool_options options_;
    pid_t self_ = ::getpid();
    mutable std::mutex mutex_;
    std::condition_variable started_;
    phase phase_ = phase::running;
    std::exception_ptr broken_;  ///< set when workers cannot be started
    /// Workers that died before saying hello, since the last one that did.
    int start_failures_in_row_ = 0;
    static constexpr int max_start_failures_in_row = 3;
    std::deque<std::shared_ptr<task_record>> pending_;
    std::vector<std::unique_ptr<worker_process>> workers_;
    std::uint64_t next_id_ = 1;
    double average_task_seconds_ = 1;  ///< run time of recent tasks; starts pessimistic
    pool_stats stats_;
    int wake_fd_ = -1;
    /// Forks the workers in fork mode (the parent itself runs threads by then).
    std::unique_ptr<fork_server> forks_;
    std::atomic<bool> dispatcher_asleep_{false};  ///< in poll(): a submit must wake it
    std::thread dispatcher_;
    bool joined_ = false;
    std::mutex join_mutex_;
    std::weak_ptr<pool_core> self_reference_;

    friend class strata::pool;
};

pool_core::pool_core(pool_options options) : options_(std::move(options)) {
    if (spawned_as_worker()) {
        throw start_error(
            "this process was started as a strata worker, but main() did not call strata::serve_if_worker() "
            "before creating a pool");
    }
    if (options_.processes == 0) options_.processes = std::max(1u, std::thread::hardware_concurrency());
    const unsigned threads = thread_count();
    if (options_.start == start_method::fork && threads > 1) {
        throw usage_error(fmt::format(
            "start method 'fork' refused: this process runs {} threads, and forking a multi-threaded process can "
            "deadlock the child; use start_method::spawn or start_method::automatic",
            threads));
    }
    if (options_.start == start_method::automatic) {
        options_.start = threads > 1 ? start_method::spawn : start_method::fork;
    }
    if (options_.start == start_method::spawn && options_.worker_program.empty()) {
        options_.worker_program = "/proc/self/exe";
    }
    if (!options_.initializer.empty() && find_task(options_.initializer) == nullptr &&
        options_.worker_program == "/proc/self/exe") {
        throw usage_error("unknown initializer task '" + options_.initializer + "'");
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd for the pool");

    // Workers are forked by the dispatcher thread, the thread they outlive
    // (PR_SET_PDEATHSIG follows the thread that made the child).
    dispatcher_ = std::thread([this] { dispatch(); });
    std::unique_lock lock(mutex_);
    started_.wait(lock, [&] {
        if (broken_) return true;
        return std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->ready; }) ==
               static_cast<long>(options_.processes);
    });
    if (broken_) {
        auto failure = broken_;
        phase_ = phase::terminating;
        lock.unlock();
        wake();
        dispatcher_.join();
        joined_ = true;
        ::close(wake_fd_);
        std::rethrow_exception(failure);
    }
}

pool_core::~pool_core() {
    close();
    join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void pool_core::wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
}

std::shared_ptr<future_state> pool_core::submit(message_kind kind, std::string_view name, writer payload) {
    auto state = std::make_shared<future_state>();
    state->task_name = std::string(name);
    bool sent_here = false;
    {
        std::lock_guard lock(mutex_);
        if (phase_ != phase::running) {
            throw usage_error("cannot submit task '" + std::string(name) + "': the pool is closed");
        }
        if (broken_) std::rethrow_exception(broken_);
        auto record = std::make_shared<task_record>(task_record{
            next_id_++, std::string(name), packet_part(kind, next_id_ - 1, 0, name, std::move(payload.bytes()), payload.release_fds()),
            state, {}});
        std::weak_ptr<pool_core> weak = self_reference_;
        state->cancel_hook = [weak, id = record->id] {
            auto core = weak.lock();
            return core && core->cancel(id);
        };
        pending_.push_back(std::move(record));
        // While the dispatcher sleeps, a task that an idle worker can take
        // at once is sent from here: the dispatcher is then no hand-off on
        // the way to the worker, only on the way back (it already watches the
        // worker's channel for the result).
        if (dispatcher_asleep_ && pending_.size() == 1) {
            const auto idle = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return can_take(*w, 1); });
            if (idle != workers_.end()) {
                worker_process& w = **idle;
                // Only a clean send gives the task to the worker; anything
                // else leaves it queued for the dispatcher, which handles
                // full channels and lost workers first.
                const packet_part* const parts[] = {&pending_.front()->packet};
                try {
                    sent_here = send_packet(w.channel, parts, false) == send_status::sent;
                } catch (const std::exception&) {
                    sent_here = false;
                }
                if (sent_here) {
                    give_next(w);  // idle: the task's clock starts now
                    w.sent = 1;
                }
            }
        }
    }
    // The dispatcher looks at the queue before it sleeps; wake it only if it
    // sleeps and has something to do: a task to send, or a timeout to watch.
    if ((!sent_here || options_.timeout.count() > 0) && dispatcher_asleep_.exchange(false)) wake();
    return state;
}

bool pool_core::cancel(std::uint64_t id) {
    std::shared_ptr<task_record> found;
    {
        std::lock_guard lock(mutex_);
        const auto it = std::find_if(pending_.begin(), pending_.end(), [&](const auto& t) { return t->id == id; });
        if (it == pending_.end()) return false;
        found = *it;
        pending_.erase(it);
    }
    found->state->finish(task_status::cancelled, nullptr);
    return true;
}

void pool_core::close() {
    {
        std::lock_guard lock(mutex_);
        if (phase_ == phase::running) phase_ = phase::closing;
    }
    wake();
}

void pool_core::terminate() {
    {
        std::lock_guard lock(mutex_);
        if (phase_ != phase::finished) phase_ = phase::terminating;
    }
    wake();
    join();
}

void pool_core::join() {
    {
        std::lock_guard lock(mutex_);
        if (phase_ == phase::running) throw usage_error("join() needs close() or terminate() first");
    }
    std::lock_guard lock(join_mutex_);
    if (!joined_ && dispatcher_.joinable()) dispatcher_.join();
    joined_ = true;
}

// --- dispatcher thread -------------------------------------------------------

void pool_core::dispatch() {
    // Before the lock, so that what is still held runs after it is released.
    detail::deferred_callbacks callbacks;
    std::unique_lock lock(mutex_);
    if (options_.start == start_method::fork) {
        // First thing, while the constructing thread only waits: the fork
        // server is a copy of the program with no other thread in it.
        try {
            forks_ = std::make_unique<fork_server>(std::vector<int>{wake_fd_}, options_.initializer);
        } catch (...) {
            break_pool(std::current_exception());
        }
    }
    std::vector<pollfd> watched;
    std::vector<worker_process*> owners;
    while (true) {
        if (phase_ == phase::terminating) {
            fail_everything(nullptr);
            shut_down_workers(true);
            break;
        }
        retire_finished_workers();
        auto active = [&] {
            return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return !w->stopping; }));
        };
        // Seen as soon as it happens, so that no task goes to a doomed worker.
        if (!broken_ && forks_ && options_.start == start_method::fork && !forks_->running()) {
            try {
                replace_fork_server();
            } catch (...) {
                break_pool(std::current_exception());
            }
        }
        while (!broken_ && active() < options_.processes) {
            try {
                launch_worker();
            } catch (...) {
                break_pool(std::current_exception());
            }
        }
        if (broken_ && std::none_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->ready && !w->stopping; })) {
            fail_everything(broken_);  // nobody is left to run what waits
        }
        assign_tasks();
        for (std::size_t i = 0; i < workers_.size();) {
            worker_process* w = workers_[i].get();
            flush(*w);
            if (i < workers_.size() && workers_[i].get() == w) ++i;
        }

        const bool idle = pending_.empty() && std::all_of(workers_.begin(), workers_.end(),
                                                          [](const auto& w) { return w->in_flight.empty(); });
        if (phase_ == phase::closing && idle) {
            shut_down_workers(false);
            break;
        }

        watched.clear();
        owners.clear();
        watched.push_back({wake_fd_, POLLIN, 0});
        owners.push_back(nullptr);
        auto deadline = clock::time_point::max();
        for (auto& w : workers_) {
            const short events = static_cast<short>(POLLIN | (w->sent < w->in_flight.size() ? POLLOUT : 0));
            watched.push_back({w->channel, events, 0});
            owners.push_back(w.get());
            watched.push_back({w->pidfd, POLLIN, 0});
            owners.push_back(w.get());
            if (!w->ready) deadline = std::min(deadline, w->launched + options_.start_timeout);
            if (options_.timeout.count() > 0 && w->sent > 0) {
                deadline = std::min(deadline, w->in_flight.front()->started + options_.timeout);
            }
        }
        int wait_ms = -1;
        if (deadline != clock::time_point::max()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            wait_ms = static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
        }

        // Throughput mode (a long queue, every worker with work queued):
        // let results pile up a little, so that one wake-up collects many.
        const bool saturated = pending_.size() > 4 * workers_.size() &&
                               std::all_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->in_flight.size() > 4; });
        dispatcher_asleep_ = true;
        lock.unlock();
        callbacks.run();  // of the tasks finished under the lock
        if (saturated) std::this_thread::sleep_for(std::chrono::microseconds(100));
        const int ready = ::poll(watched.data(), watched.size(), wait_ms);
        lock.lock();
        dispatcher_asleep_ = false;
        if (ready < 0 && errno != EINTR) {
            break_pool(std::make_exception_ptr(
                std::system_error(errno, std::generic_category(), "poll in the pool's dispatcher")));
            fail_everything(nullptr);
            shut_down_workers(true);
            break;
        }

        if (watched[0].revents != 0) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto n = ::read(wake_fd_, &count, sizeof count);
        }
        for (std::size_t i = 1; i < watched.size(); ++i) {
            worker_process* w = owners[i];
            const auto still_here = std::any_of(workers_.begin(), workers_.end(), [&](const auto& p) { return p.get() == w; });
            if (!still_here || watched[i].revents == 0) continue;
            if (watched[i].fd == w->channel) {
                if ((watched[i].revents & POLLIN) != 0) receive(*w);
                if (std::any_of(workers_.begin(), workers_.end(), [&](const auto& p) { return p.get() == w; }) &&
                    (watched[i].revents & (POLLHUP | POLLERR)) != 0 && (watched[i].revents & POLLIN) == 0) {
                    lose_worker(*w, "closed its channel", false);
                }
            } else {
                receive(*w);  // a result sent just before the exit still counts
                if (std::any_of(workers_.begin(), workers_.end(), [&](const auto& p) { return p.get() == w; })) {
                    lose_worker(*w, "exited", false);
                }
            }
        }
        // Timeouts: tasks over their limit, workers that never said hello.
        const auto now = clock::now();
        for (std::size_t i = 0; i < workers_.size();) {
            auto& w = *workers_[i];
            if (!w.ready && now >= w.launched + options_.start_timeout) {
                auto failure = std::make_exception_ptr(start_error(fmt::format(
                    "worker {} ({}) did not start within {} ms{}", w.pid, options_.worker_program.empty() ? "fork" : options_.worker_program,
                    options_.start_timeout.count(),
                    options_.start == start_method::spawn ? "; does its main() call strata::serve_if_worker()?" : "")));
                send_signal(w.pid, w.pidfd, SIGKILL);
                reap(w, true);
                remove_worker(w);
                break_pool(failure);
                continue;
            }
            if (options_.timeout.count() > 0 && w.sent > 0 && now >= w.in_flight.front()->started + options_.timeout) {
                lose_worker(w, "", true);
                continue;
            }
            ++i;
        }
    }
    forks_.reset();  // every worker is gone: the server may go too
    phase_ = phase::finished;
    started_.notify_all();
}

void pool_core::launch_worker() {
    pid_t pid = -1;
    int channel = -1;
    if (forks_ && options_.start == start_method::fork && !forks_->running()) replace_fork_server();
    const bool by_server = forks_ && options_.start == start_method::fork;
    if (by_server) {
        const auto made = forks_->start_worker(options_.start_timeout);
        pid = made.pid;
        channel = made.channel;
    } else {
        int ends[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
            throw std::system_error(errno, std::generic_category(), "socketpair for a worker channel");
        }
        try {
            pid = detail::launch_worker(false, options_.worker_program, ends[1], {}, options_.initializer,
                                        worker_role::pool);
        } catch (...) {
            ::close(ends[0]);
            ::close(ends[1]);
            throw;
        }
        ::close(ends[1]);
        channel = ends[0];
    }
    auto w = std::make_unique<worker_process>();
    w->pid = pid;
    w->forked = by_server;
    w->channel = channel;
    w->pidfd = sys::pidfd_open(pid);
    w->launched = clock::now();
    ++stats_.workers_started;
    workers_.push_back(std::move(w));
}

void pool_core::assign_tasks() {
    std::size_t ready = 0;
    for (const auto& w : workers_) ready += (w->ready && !w->stopping) ? 1 : 0;
    if (ready == 0) return;
    bool progress = true;
    while (!pending_.empty() && progress) {
        progress = false;
        // A queue at each worker only when plenty is waiting: otherwise tasks
        // wait here, where they can still be cancelled or go to whichever
        // worker frees up first.
        // Short tasks go in deep batches (fewer wake-ups); long ones one at a
        // time, so that no worker sits on a backlog while another idles.
        const std::size_t per_worker = pending_.size() / ready;
        const std::size_t cap = average_task_seconds_ < 100e-6 ? max_window : average_task_seconds_ < 1e-3 ? 8 : 1;
        const std::size_t window = per_worker >= 2 ? 1 + std::min(cap, per_worker / 2) : 1;
        for (auto& w : workers_) {
            if (pending_.empty()) break;
            if (!can_take(*w, window)) continue;
            give_next(*w);
            progress = true;
        }
    }
}

bool pool_core::can_take(const worker_process& w, std::size_t window) const {
    return w.ready && !w.stopping && w.in_flight.size() < window &&
           (options_.max_tasks_per_child == 0 || w.assigned < options_.max_tasks_per_child);
}

void pool_core::give_next(worker_process& w) {
    auto task = std::move(pending_.front());
    pending_.pop_front();
    {
        std::lock_guard state_lock(task->state->mutex);
        task->state->status = task_status::running;
        task->state->worker_pid = w.pid;
        task->state->cancel_hook = nullptr;
    }
    if (w.in_flight.empty()) task->started = clock::now();
    w.in_flight.push_back(std::move(task));
    ++w.assigned;
}

void pool_core::flush(worker_process& w) {
    while (w.sent < w.in_flight.size()) {
        std::vector<const packet_part*> parts;
        std::size_t bytes = 0;
        std::size_t fds = 0;
        for (std::size_t i = w.sent; i < w.in_flight.size(); ++i) {
            const auto& part = w.in_flight[i]->packet;
            if (!parts.empty() && (bytes + part.bytes().size() > max_packet || fds + part.fds().size() > max_fds_per_packet)) {
                break;
            }
            bytes += part.bytes().size();
            fds += part.fds().size();
            parts.push_back(&part);
        }
        send_status status = send_status::sent;
        try {
            status = send_packet(w.channel, parts, false);
        } catch (const std::exception& e) {
            lose_worker(w, fmt::format("could not be sent its tasks ({})", e.what()), false);
            return;
        }
        if (status != send_status::sent) return;  // full (POLLOUT later) or gone (pidfd tells)
        if (w.sent == 0) w.in_flight.front()->started = clock::now();
        w.sent += parts.size();
    }
}

void pool_core::receive(worker_process& w) {
    auto still_here = [&] { return std::any_of(workers_.begin(), workers_.end(), [&](const auto& p) { return p.get() == &w; }); };
    for (int round = 0; round < 8; ++round) {
        received packets;
        try {
            packets = receive_waiting(w.channel);
        } catch (const std::exception& e) {
            lose_worker(w, fmt::format("broke its channel ({})", e.what()), false);
            return;
        }
        for (auto& m : packets.messages) {
            try {
                handle_message(w, m);
            } catch (const std::exception& e) {
                if (still_here()) lose_worker(w, fmt::format("sent a message that could not be handled ({})", e.what()), false);
                return;
            }
            if (!still_here()) return;
        }
        if (packets.state == received::status::malformed) {
            lose_worker(w, fmt::format("sent a malformed message ({})", packets.problem), false);
            return;
        }
        if (packets.state == received::status::closed) {
            lose_worker(w, "closed its channel", false);
            return;
        }
        if (packets.messages.empty()) return;
    }
}

void pool_core::handle_message(worker_process& w, message& m) {
    switch (m.kind) {
    case message_kind::hello:
        w.ready = true;
        start_failures_in_row_ = 0;
        started_.notify_all();
        return;
    case message_kind::init_failed: {
        if (w.ready) {
            lose_worker(w, "reported a start-up failure after it had started", false);
            return;
        }
        std::string what;
        try {
            auto [type, text] = decode_failure(m);
            what = fmt::format("raised {}: {}", type, text);
        } catch (const std::exception&) {
            what = "failed (its report was malformed)";
        }
        auto failure = std::make_exception_ptr(start_error(
            fmt::format("worker {} could not start: its initializer '{}' {}", w.pid, options_.initializer, what)));
        send_signal(w.pid, w.pidfd, SIGKILL);
        reap(w, true);
        remove_worker(w);
        break_pool(failure);
        return;
    }
    case message_kind::result:
    case message_kind::failure: {
        if (w.sent == 0 || w.in_flight.front()->id != m.id) {
            lose_worker(w, "answered a task it was not running", false);
            return;
        }
        auto task = std::move(w.in_flight.front());
        w.in_flight.pop_front();
        --w.sent;
        const auto now = clock::now();
        const double ran = std::chrono::duration<double>(now - task->started).count();
        average_task_seconds_ += (ran - average_task_seconds_) / 16;  // moving average over ~16 tasks
        if (!w.in_flight.empty()) w.in_flight.front()->started = now;
        ++stats_.tasks_completed;
        if (m.kind == message_kind::result) {
            if (!m.out_of_line.empty()) {
                // A large result stays in its memfd: no copy.
                std::lock_guard state_lock(task->state->mutex);
                task->state->result_mapping = std::move(m.out_of_line);
                task->state->result_size = m.payload().size();
            }
            task->state->finish(task_status::succeeded, nullptr, std::move(m.inline_payload), std::exchange(m.fds, {}),
                                m.tag);
        } else {
            std::exception_ptr failure;
            try {
                auto [type, text] = decode_failure(m);
                failure = type == "strata::usage_error"
                              ? std::make_exception_ptr(usage_error(text))
                              : std::make_exception_ptr(remote_error(task->name, w.pid, type, text));
            } catch (const std::exception& e) {
                failure = std::make_exception_ptr(
                    remote_error(task->name, w.pid, "strata::protocol_error", e.what()));
            }
            task->state->finish(task_status::failed, failure);
        }
        return;
    }
    default: lose_worker(w, "sent a message only a parent sends", false);
    }
}

void pool_core::replace_fork_server() {
    // Its workers die with it (they die with their parent), some perhaps not
    // yet: none of them takes another task. This process runs threads now,
    // so a new server cannot be forked from it; spawned workers can take
    // over, if this program serves as one.
    for (auto& w : workers_) w->stopping = true;
    const pid_t server = forks_->pid();
    if (!program_serves_workers()) {
        throw start_error(fmt::format(
            "the pool's fork server (pid {}) ended, and no worker can be started in its place: this program's "
            "main() does not call strata::serve_if_worker(), which spawned workers need",
            server));
    }
    options_.start = start_method::spawn;
    options_.worker_program = "/proc/self/exe";
    ++stats_.fork_servers_lost;
}

int pool_core::reap(worker_process& w, bool block) {
    if (w.forked && forks_) {
        // The fork server is the parent: it reaps, and reports the status.
        pollfd exit_watch{w.pidfd, POLLIN, 0};
        const bool exited = ::poll(&exit_watch, 1, 0) > 0;
        const int status = forks_->exit_status(w.pid, block || exited,
                                               block ? std::chrono::milliseconds(5000) : std::chrono::milliseconds(500));
        // A server killed with the rest of the process group cannot say how
        // its worker ended; the pidfd still tells that it did.
        if (status == -1 && exited && forks_->gone()) return exit_status_unknown;
        return status;
    }
    int status = 0;
    const pid_t result = STRATA_RETRY(::waitpid(w.pid, &status, block ? 0 : WNOHANG));
    return result == w.pid ? status : -1;
}

void pool_core::remove_worker(worker_process& w) {
    ::close(w.channel);
    if (w.pidfd >= 0) ::close(w.pidfd);
    std::erase_if(workers_, [&](const auto& p) { return p.get() == &w; });
}

void pool_core::lose_worker(worker_process& w, const std::string& how_if_unknown, bool timed_out) {
    const pid_t pid = w.pid;
    if (w.stopping && w.in_flight.empty()) {  // retired on purpose: its exit is expected
        pollfd exit_watch{w.pidfd, POLLIN, 0};
        if (::poll(&exit_watch, 1, 1000) == 0) send_signal(pid, w.pidfd, SIGKILL);
        reap(w, true);
        remove_worker(w);
        return;
    }
    int status = -1;
    if (!timed_out) {
        // A worker whose channel closed is normally on its way out: give it a
        // moment, so the report says how it really ended.
        pollfd exit_watch{w.pidfd, POLLIN, 0};
        ::poll(&exit_watch, 1, 200);
        status = reap(w, false);
    }
    std::string how;
    if (status >= 0) {
        how = describe_exit(status);
    } else if (status == exit_status_unknown) {
        how = how_if_unknown.empty() ? "ended (how is not known: the fork server is gone)" : how_if_unknown;
    } else {
        send_signal(pid, w.pidfd, SIGKILL);
        reap(w, true);
        how = how_if_unknown.empty() ? "was killed" : how_if_unknown;
    }
    if (!w.ready) {
        // Died before it could say hello. Once may be bad luck (killed from
        // outside, the OOM killer): another is started. Several in a row
        // mean it cannot start, and what waits fails instead of waiting.
        remove_worker(w);
        if (++start_failures_in_row_ >= max_start_failures_in_row) {
            break_pool(std::make_exception_ptr(start_error(fmt::format(
                "worker {} {} before it started ({} workers in a row did)", pid, how, start_failures_in_row_))));
        }
        return;
    }
    auto in_flight = std::move(w.in_flight);
    const std::size_t sent = w.sent;
    remove_worker(w);
    if (sent > 0) {
        auto running = std::move(in_flight.front());
        in_flight.pop_front();
        ++stats_.workers_lost;
        ++stats_.tasks_completed;
        std::exception_ptr failure =
            timed_out ? std::make_exception_ptr(task_timeout(running->name, static_cast<int>(pid), options_.timeout))
                      : std::make_exception_ptr(worker_lost(running->name, static_cast<int>(pid), how));
        running->state->finish(task_status::failed, failure);
    }
    // The ones queued behind it never started: back to the front of the queue.
    for (auto it = in_flight.rbegin(); it != in_flight.rend(); ++it) {
        (*it)->started = {};
        pending_.push_front(std::move(*it));
    }
}

void pool_core::retire_finished_workers() {
    if (options_.max_tasks_per_child == 0) return;
    for (auto& w : workers_) {
        if (w->ready && !w->stopping && w->assigned >= options_.max_tasks_per_child && w->in_flight.empty()) {
            // Told to stop; its exit (pidfd) is handled as an expected one.
            w->stopping = true;
            try {
                send_one(w->channel, packet_part(message_kind::stop, 0, 0, {}, {}, {}), false);
            } catch (const std::exception&) {
                send_signal(w->pid, w->pidfd, SIGKILL);
            }
        }
    }
}

void pool_core::break_pool(std::exception_ptr failure) {
    if (!broken_) broken_ = failure;
    started_.notify_all();
    fail_everything(failure);
}

void pool_core::fail_everything(std::exception_ptr failure) {
    auto fail = [&](const std::shared_ptr<task_record>& task) {
        task->state->finish(failure ? task_status::failed : task_status::cancelled, failure);
    };
    for (auto& task : pending_) fail(task);
    pending_.clear();
    if (!failure) {  // terminating: in-flight tasks end too
        for (auto& w : workers_) {
            for (auto& task : w->in_flight) fail(task);
            w->in_flight.clear();
            w->sent = 0;
        }
    }
}

void pool_core::shut_down_workers(bool forceful) {
    for (auto& w : workers_) {
        if (forceful) {
            send_signal(w->pid, w->pidfd, SIGTERM);
        } else {
            try {
                send_one(w->channel, packet_part(message_kind::stop, 0, 0, {}, {}, {}), false);
            } catch (const std::exception&) {
                send_signal(w->pid, w->pidfd, SIGTERM);
            }
        }
    }
    // Wait for them to go, then insist. A worker of the fork server is gone
    // when its pidfd says so: the server reaps it, and its word on how the
    // worker ended no longer matters (nor may a stopped server hold this up).
    const auto gone = [](worker_process& w, int wait_ms) {
        pollfd exit_watch{w.pidfd, POLLIN, 0};
        return w.forked && w.pidfd >= 0 && STRATA_RETRY(::poll(&exit_watch, 1, wait_ms)) > 0;
    };
    const auto deadline = clock::now() + (forceful ? grace_period : 5 * grace_period);
    while (!workers_.empty()) {
        for (std::size_t i = 0; i < workers_.size();) {
            if (gone(*workers_[i], 0) || reap(*workers_[i], false) != -1) {
                remove_worker(*workers_[i]);
                continue;
            }
            ++i;
        }
        if (workers_.empty()) break;
        if (clock::now() >= deadline) {
            for (auto& w : workers_) send_signal(w->pid, w->pidfd, SIGKILL);
            for (auto& w : workers_) {
                if (!gone(*w, static_cast<int>(grace_period.count()))) reap(*w, true);
            }
            while (!workers_.empty()) remove_worker(*workers_.front());
            break;
        }
        std::vector<pollfd> exits;
        for (auto& w : workers_) exits.push_back({w->pidfd, POLLIN, 0});
        ::poll(exits.data(), exits.size(), 20);
    }
}

}  // namespace strata::detail

namespace strata {

pool::pool(pool_options options) {
    auto core = std::shared_ptr<detail::pool_core>(new detail::pool_core(std::move(options)));
    core->self_reference_ = core;
    core_ = std::move(core);
}

pool::~pool() {
    if (core_) {
        core_->close();
        core_->join();
    }
}

pool::pool(pool&&) noexcept = default;
pool& pool::operator=(pool&& other) noexcept {
    if (this != &other) {
        if (core_) {
            core_->close();
            core_->join();
        }
        core_ = std::move(other.core_);
    }
    return *this;
}

unsigned pool::size() const noexcept { return core_ ? core_->size() : 0; }
pool_stats pool::stats() const { return core_->stats(); }
std::vector<int> pool::worker_pids() const { return core_->worker_pids(); }
void pool::close() { core_->close(); }
void pool::join() { core_->join(); }
void pool::terminate() { core_->terminate(); }

namespace detail {

std::shared_ptr<future_state> submit_to(const std::shared_ptr<pool_core>& core, submission kind, std::string_view name,
                                        writer payload) {
    if (!core) throw usage_error("this pool was moved from");
    const auto wire = kind == submission::one     ? message_kind::run
                      : kind == submission::chunk ? message_kind::run_chunk
                                                  : message_kind::run_star_chunk;
    return core->submit(wire, name, std::move(payload));
}

}  // namespace detail

void pool::check_call(std::string_view name, std::uint64_t result_tag, const std::type_info& result_type,
                      std::uint64_t argument_tag, const std::type_info& argument_types) const {
    const detail::task_entry* entry = detail::find_task(name);
    if (entry == nullptr) {
        const auto names = detail::task_names();
        throw usage_error(fmt::format("unknown task '{}'; registered tasks: {}", name,
                                      names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    if (entry->result_tag != result_tag) {
        throw usage_error(fmt::format("task '{}' returns {}, not {}", name, entry->result_type,
                                      detail::type_name(result_type)));
    }
    if (entry->argument_tag != argument_tag) {
        throw usage_error(fmt::format("task '{}' takes {}, not {}", name, entry->argument_types,
                                      detail::type_name(argument_types)));
    }
}

}  // namespace strata
