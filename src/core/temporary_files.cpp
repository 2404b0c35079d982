// The registry behind temporary_file_guard: fixed slots a signal handler can
// walk without locks or allocation.
#include "strata/detail/temporary_files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>

namespace strata::detail {

namespace {

enum slot_state : int { free_slot, filling, recorded };

struct slot {
    std::atomic<int> state{free_slot};
    pid_t owner = -1;  // a forked child inherits the table, not the files
    int folder = -1;
    char name[256] = {};
};

// More than enough: a process writes one file per encoder at a time.
std::array<slot, 128>& slots() {
    static std::array<slot, 128> table;
    return table;
}

constexpr int cleaned_signals[] = {SIGTERM, SIGINT, SIGHUP};

extern "C" void remove_and_end(int signal_number) {
    remove_temporary_files();
    // Another thread may have been creating one of them just then (a saver
    // that makes its file afresh): give it a moment, and remove again.
    const timespec moment{0, 20'000'000};
    ::nanosleep(&moment, nullptr);
    remove_temporary_files();
    // SA_RESETHAND restored the default action; the signal delivered again
    // (once this handler returns: it is blocked until then, as are the
    // others, so no second signal cuts the clean-up short) ends the process
    // as it would have.
    ::raise(signal_number);
}

// For each signal whose action is the default (which would end the process
// with the files in place): a handler that removes them first.
void handle_fatal_signals() noexcept {
    for (const int signal_number : cleaned_signals) {
        struct sigaction current {};
        if (::sigaction(signal_number, nullptr, &current) != 0) continue;
        if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
        struct sigaction action {};
        action.sa_handler = remove_and_end;
        sigemptyset(&action.sa_mask);
        for (const int blocked : cleaned_signals) sigaddset(&action.sa_mask, blocked);
        action.sa_flags = SA_RESETHAND;
        ::sigaction(signal_number, &action, nullptr);
    }
}

}  // namespace

temporary_file_guard::temporary_file_guard(int folder, std::string_view name) noexcept {
    if (name.size() >= sizeof(slot::name)) return;
    handle_fatal_signals();
    auto& table = slots();
    for (std::size_t i = 0; i < table.size(); ++i) {
        int expected = free_slot;
        if (!table[i].state.compare_exchange_strong(expected, filling)) continue;
        table[i].owner = ::getpid();
        table[i].folder = folder;
        std::memcpy(table[i].name, name.data(), name.size());
        table[i].name[name.size()] = '\0';
        table[i].state.store(recorded);
        slot_ = static_cast<int>(i);
        return;
    }
}

temporary_file_guard::~temporary_file_guard() { release(); }

void temporary_file_guard::release() noexcept {
    if (slot_ < 0) return;
    slots()[static_cast<std::size_t>(slot_)].state.store(free_slot);
    slot_ = -1;
}

void remove_temporary_files() noexcept {
    const pid_t self = ::getpid();
    for (auto& entry : slots()) {
        if (entry.state.load() == recorded && entry.owner == self) ::unlinkat(entry.folder, entry.name, 0);
    }
}

}  // namespace strata::detail
