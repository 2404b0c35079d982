// The worker side of the pool: run tasks by name, send back results or failures.
#include "worker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include <fmt/format.h>

#include "message.hpp"
#include "syscall.hpp"
#include "strata/pool.hpp"
#include "strata/task.hpp"

extern char** environ;

namespace strata::detail {

namespace {

[[noreturn]] void leave(int code) noexcept {
    std::fflush(nullptr);  // what tasks printed; inherited parent buffers were flushed before fork
    ::_exit(code);
}

void send_or_leave(int channel, const packet_part& part) {
    if (send_one(channel, part, true) != send_status::sent) leave(0);  // parent gone
}

std::vector<std::byte> failure_payload(const std::string& type, const std::string& text) {
    writer w;
    w.put(type);
    w.put(text);
    return std::move(w.bytes());
}

void send_failure(int channel, message_kind kind, std::uint64_t id, const std::string& type, const std::string& text) {
    send_or_leave(channel, packet_part(kind, id, 0, {}, failure_payload(type, text), {}));
}

// Runs `body`; reports an exception it throws as a failure of task `id`.
template <class Body>
bool run_guarded(int channel, message_kind failure_kind, std::uint64_t id, Body&& body) {
    try {
        body();
        return true;
    } catch (const std::exception& e) {
        send_failure(channel, failure_kind, id, type_name(typeid(e)), e.what());
    } catch (...) {
        send_failure(channel, failure_kind, id, "unknown exception type", "(not derived from std::exception)");
    }
    return false;
}

void serve(int channel, message& m) {
    // Consecutive calls usually name the same task: skip the registry lookup.
    static std::string last_name;
    static const task_entry* last_entry = nullptr;
    const task_entry* entry = nullptr;
    const bool known = run_guarded(channel, message_kind::failure, m.id, [&] {
        if (last_entry != nullptr && m.name == last_name) {
            entry = last_entry;
            return;
        }
        entry = find_task(m.name);
        last_name = m.name;
        last_entry = entry;
        if (entry == nullptr) {
            throw usage_error("no task named '" + m.name + "' is registered in the worker program");
        }
    });
    if (!known) return;

    writer out;
    const bool ok = run_guarded(channel, message_kind::failure, m.id, [&] {
        // The reader takes the descriptors it decodes; the message closes the rest.
        reader in(m.payload().data(), m.payload().size(), &m.fds);
        if (m.kind == message_kind::run) {
            entry->invoke(*entry, in, out);
        } else {
            entry->invoke_chunk(*entry, in, out, m.kind == message_kind::run_star_chunk);
        }
    });
    if (!ok) return;
    const std::uint64_t tag = m.kind == message_kind::run ? entry->result_tag : entry->chunk_result_tag;
    send_or_leave(channel, packet_part(message_kind::result, m.id, tag, {}, std::move(out.bytes()), out.release_fds()));
}

// A strata::process: one task, then exit 0, or print why and exit 1.
[[noreturn]] void run_one_and_leave(int channel) {
    received packet = receive_packet(channel, true);
    if (packet.state != received::status::ok || packet.messages.empty() ||
        packet.messages.front().kind != message_kind::run) {
        leave(0);  // the parent went away before starting us
    }
    message& m = packet.messages.front();
    try {
        const task_entry* entry = find_task(m.name);
        if (entry == nullptr) throw usage_error("no task named '" + m.name + "' is registered in this program");
        reader in(m.payload().data(), m.payload().size(), &m.fds);
        writer ignored;
        entry->invoke(*entry, in, ignored);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "strata process %d: task '%s' raised %s: %s\n", static_cast<int>(::getpid()), m.name.c_str(),
                     type_name(typeid(e)).c_str(), e.what());
        leave(1);
    } catch (...) {
        std::fprintf(stderr, "strata process %d: task '%s' raised an unknown exception\n", static_cast<int>(::getpid()),
                     m.name.c_str());
        leave(1);
    }
    leave(0);
}

}  // namespace

void worker_main(int channel, pid_t parent, const std::string& initializer, worker_role role) noexcept {
    if (role != worker_role::process) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) leave(0);  // the parent died before we could ask
    }
    // A forked worker must not run the parent's signal handlers (a test
    // framework's crash reporter, say): default actions, except that Ctrl-C
    // belongs to the parent.
    for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
        if (signal_number != SIGKILL && signal_number != SIGSTOP) ::signal(signal_number, SIG_DFL);
    }
    if (role == worker_role::pool) ::signal(SIGINT, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::fcntl(channel, F_SETFD, FD_CLOEXEC);

    try {
        if (role != worker_role::pool) run_one_and_leave(channel);
        if (!initializer.empty()) {
            const bool ok = run_guarded(channel, message_kind::init_failed, 0, [&] {
                const task_entry* entry = find_task(initializer);
                if (entry == nullptr) throw usage_error("no task named '" + initializer + "' (the initializer)");
                reader none(nullptr, 0);
                writer ignored;
                entry->invoke(*entry, none, ignored);
            });
            if (!ok) leave(1);
        }
        send_or_leave(channel, packet_part(message_kind::hello, static_cast<std::uint64_t>(::getpid()), 0, {}, {}, {}));

        while (true) {
            received packet = receive_packet(channel, true);
            if (packet.state != received::status::ok) leave(0);  // parent closed the channel
            for (auto& m : packet.messages) {
                switch (m.kind) {
                case message_kind::run:
                case message_kind::run_chunk:
                case message_kind::run_star_chunk: serve(channel, m); break;
                case message_kind::stop: leave(0);
                default: leave(3);  // not something a parent sends
                }
            }
        }
    } catch (...) {
        leave(3);  // a malformed packet or a broken channel: nothing sensible to do
    }
}

bool spawned_as_worker() noexcept { return std::getenv(worker_channel_variable) != nullptr; }

namespace {
std::atomic<bool> serves_workers{false};
}  // namespace

bool program_serves_workers() noexcept { return serves_workers.load(); }

pid_t launch_worker(bool fork, const std::string& program, int child_end, const std::vector<int>& close_in_child,
                    const std::string& initializer, worker_role role) {
    const pid_t parent = ::getpid();
    if (fork) {
        std::fflush(nullptr);  // or the child would print the parent's buffered output again
        const pid_t pid = sys::fork();
        if (pid < 0) throw start_error(fmt::format("cannot start a worker: fork failed: {}", std::strerror(errno)));
        if (pid == 0) {
            for (const int fd : close_in_child) ::close(fd);
            worker_main(child_end, parent, initializer, role);
        }
        return pid;
    }
    if (const int injected = sys::take_injected_failure(sys::injectable::spawn)) {
        throw start_error(fmt::format("cannot start worker program {}: {}", program, std::strerror(injected)));
    }
    constexpr int channel_fd = 3;
    int source = child_end;
    int moved = -1;
    if (source == channel_fd) {  // dup2 onto itself would keep close-on-exec
        moved = ::fcntl(source, F_DUPFD_CLOEXEC, 10);
        source = moved;
    }
    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        if (std::strncmp(*entry, "STRATA_WORKER_", 14) != 0) variables.emplace_back(*entry);
    }
    variables.push_back(fmt::format("{}={}", worker_channel_variable, channel_fd));
    variables.push_back(fmt::format("{}={}", worker_parent_variable, parent));
    variables.push_back(fmt::format("{}={}", worker_initializer_variable, initializer));
    variables.push_back(fmt::format("{}={}", worker_role_variable,
                                    role == worker_role::pool ? "pool" : role == worker_role::daemon ? "daemon" : "process"));
    std::vector<char*> envp;
    for (auto& v : variables) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::string path = program;
    char* argv[] = {path.data(), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, source, channel_fd);
    pid_t pid = -1;
    const int result = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (moved >= 0) ::close(moved);
    if (result != 0) throw start_error(fmt::format("cannot start worker program {}: {}", program, std::strerror(result)));
    return pid;
}

}  // namespace strata::detail

namespace strata {

void serve_if_worker() {
    detail::serves_workers.store(true);
    const char* channel = std::getenv(detail::worker_channel_variable);
    const char* parent = std::getenv(detail::worker_parent_variable);
    if (channel == nullptr || parent == nullptr) return;
    const char* initializer = std::getenv(detail::worker_initializer_variable);
    const std::string init = initializer != nullptr ? initializer : "";
    const char* role_name = std::getenv(detail::worker_role_variable);
    const std::string role_text = role_name != nullptr ? role_name : "pool";
    const auto role = role_text == "process" ? detail::worker_role::process
                      : role_text == "daemon" ? detail::worker_role::daemon
                                              : detail::worker_role::pool;
    const int fd = std::atoi(channel);
    const pid_t parent_pid = static_cast<pid_t>(std::atol(parent));
    ::unsetenv(detail::worker_channel_variable);
    ::unsetenv(detail::worker_parent_variable);
    ::unsetenv(detail::worker_initializer_variable);
    ::unsetenv(detail::worker_role_variable);
    detail::worker_main(fd, parent_pid, init, role);
}

namespace {

unsigned count_threads_now() {
    unsigned count = 0;
    if (DIR* tasks = ::opendir("/proc/self/task")) {
        while (const dirent* entry = ::readdir(tasks)) {
            if (entry->d_name[0] != '.') ++count;
        }
        ::closedir(tasks);
    }
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer starts a thread of its own with the first other one,
    // and takes its locks around fork: it does not count.
    if (count > 1) --count;
#endif
    return count;
}

}  // namespace

unsigned thread_count() {
    // A thread that was just joined can still be listed for a moment while
    // the kernel finishes its exit: look again briefly before answering "more
    // than one", so such a thread does not count.
    unsigned fewest = count_threads_now();
    for (int look = 0; fewest > 1 && look < 10; ++look) {
        ::usleep(2000);
        fewest = std::min(fewest, count_threads_now());
    }
    return fewest;
}

}  // namespace strata
