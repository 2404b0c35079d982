// The task registry: a function-local static map, filled by STRATA_TASK
// during static initialisation in every process of the program.
#include <cxxabi.h>
#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <set>

#include "strata/task.hpp"

namespace strata::detail {

namespace {

struct registry {
    std::mutex mutex;
    std::map<std::string, task_entry, std::less<>> tasks;
    std::set<std::string, std::less<>> duplicated;
};

registry& tasks() {
    static registry instance;
    // A worker forked while another thread of the parent held the lock must
    // not inherit it locked: the child starts with a fresh one.
    static const bool reset_in_children = [] {
        ::pthread_atfork(nullptr, nullptr, [] { new (&tasks().mutex) std::mutex(); });
        return true;
    }();
    (void)reset_in_children;
    return instance;
}

}  // namespace

void register_task(task_entry entry) {
    auto& r = tasks();
    std::lock_guard lock(r.mutex);
    const std::string name = entry.name;
    if (!r.tasks.emplace(name, std::move(entry)).second) r.duplicated.insert(name);
}

const task_entry* find_task(std::string_view name) {
    auto& r = tasks();
    std::lock_guard lock(r.mutex);
    if (r.duplicated.contains(name)) {
        throw error("two tasks are registered under the name '" + std::string(name) + "'; task names must be unique");
    }
    const auto found = r.tasks.find(name);
    return found == r.tasks.end() ? nullptr : &found->second;
}

std::vector<std::string> task_names() {
    auto& r = tasks();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> names;
    for (const auto& [name, entry] : r.tasks) names.push_back(name);
    return names;
}

std::string type_name(const std::type_info& type) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> readable(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                    std::free);
    return status == 0 && readable ? std::string(readable.get()) : std::string(type.name());
}

}  // namespace strata::detail
