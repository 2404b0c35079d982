// posix_spawn + poll implementation of strata::test::run.
#include "subprocess.hpp"

#include "paths.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace strata::test {

namespace {

void check(int result, const char* what) {
    if (result != 0) throw std::system_error(result, std::generic_category(), what);
}

std::array<int, 2> make_pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    return fds;
}

}  // namespace

run_result run(const std::vector<std::string>& argv, const std::string& input, std::chrono::milliseconds deadline,
               const while_running& meanwhile) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();

    posix_spawn_file_actions_t actions;
    check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);

    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);

    posix_spawnattr_t attributes;
    check(posix_spawnattr_init(&attributes), "posix_spawnattr_init");
    if (meanwhile.action) {
        posix_spawnattr_setpgroup(&attributes, 0);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    }
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (spawned != 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        throw std::system_error(spawned, std::generic_category(), "posix_spawn " + argv.at(0));
    }

    std::thread acting;
    if (meanwhile.action) acting = std::thread(meanwhile.action, pid);

    run_result result;
    std::size_t fed = 0;
    int stdin_fd = in[1];
    if (input.empty()) {
        ::close(stdin_fd);
        stdin_fd = -1;
    }
    const auto give_up = std::chrono::steady_clock::now() + deadline;
    std::array<pollfd, 3> watched{};
    int open_outputs = 2;
    while (open_outputs > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        watched = {pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0}, pollfd{stdin_fd, POLLOUT, 0}};
        if (::poll(watched.data(), watched.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        for (int i = 0; i < 2; ++i) {
            if (watched[i].fd < 0 || watched[i].revents == 0) continue;
            char buffer[65536];
            const ssize_t n = ::read(watched[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(watched[i].fd);
                (i == 0 ? out[0] : err[0]) = -1;
                --open_outputs;
            }
        }
        if (stdin_fd >= 0 && watched[2].revents != 0) {
            const ssize_t n = ::write(stdin_fd, input.data() + fed, input.size() - fed);
            if (n > 0) fed += static_cast<std::size_t>(n);
            if (n < 0 || fed == input.size()) {
                ::close(stdin_fd);
                stdin_fd = -1;
            }
        }
    }
    for (int fd : {stdin_fd, out[0], err[0]}) {
        if (fd >= 0) ::close(fd);
    }

    if (acting.joinable()) acting.join();  // before the wait: the pid stays this child's until then
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return result;
}

run_result run_strata(std::vector<std::string> args, const std::string& input) {
    args.insert(args.begin(), strata_exe().string());
    return run(args, input);
}

run_result run_strata_while(std::vector<std::string> args, std::function<void(pid_t)> action) {
    args.insert(args.begin(), strata_exe().string());
    return run(args, {}, std::chrono::seconds(60), {std::move(action)});
}

}  // namespace strata::test
