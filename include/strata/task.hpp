// Tasks are functions called by name: STRATA_TASK registers one in a registry
// that the parent and every worker process share, because they run the same program.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "strata/codec.hpp"
#include "strata/export.hpp"

namespace strata {

namespace detail {

/// One registered task, type-erased. The invokers decode arguments, call the
/// function and encode its result.
struct task_entry {
    std::string name;
    void (*function)() = nullptr;  ///< the user's function, cast back by the invokers
    std::uint64_t result_tag = 0;
    std::uint64_t chunk_result_tag = 0;  ///< tag of std::vector<result>
    std::string result_type;
    std::uint64_t argument_tag = 0;  ///< tag of std::tuple<decayed Args...>
    std::string argument_types;
    /// Decodes one call's arguments from `arguments`, runs, encodes the result.
    void (*invoke)(const task_entry&, reader& arguments, writer& result) = nullptr;
    /// Decodes a vector of items (each an argument, or a tuple of arguments
    /// when `star`), runs the function on each, encodes the vector of results.
    void (*invoke_chunk)(const task_entry&, reader& items, writer& results, bool star) = nullptr;
};

STRATA_API void register_task(task_entry entry);
/// The task named `name`, or nullptr. Throws strata::error if two tasks were
/// registered under that name.
STRATA_API const task_entry* find_task(std::string_view name);
/// Names of all registered tasks, sorted.
STRATA_API std::vector<std::string> task_names();

template <class R>
using stored_result = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R, class... Args>
struct task_binding {
    using function_type = R (*)(Args...);
    using arguments = std::tuple<std::decay_t<Args>...>;

    static function_type function(const task_entry& entry) { return reinterpret_cast<function_type>(entry.function); }

    static void invoke(const task_entry& entry, reader& in, writer& out) {
        arguments values = in.get<arguments>();
        if (!in.at_end()) throw protocol_error("task '" + entry.name + "' received more arguments than it takes");
        if constexpr (std::is_void_v<R>) {
            std::apply(function(entry), std::move(values));
        } else {
            out.put(std::apply(function(entry), std::move(values)));
        }
    }

    static void invoke_chunk(const task_entry& entry, reader& in, writer& out, bool star) {
        if constexpr (std::is_void_v<R>) {
            run_chunk<std::monostate>(entry, in, out, star);
        } else {
            run_chunk<R>(entry, in, out, star);
        }
    }

private:
    template <class Result>
    static void run_chunk(const task_entry& entry, reader& in, writer& out, bool star) {
        const auto fn = function(entry);
        std::vector<Result> results;
        auto call = [&](auto&&... args) {
            if constexpr (std::is_void_v<R>) {
                fn(std::forward<decltype(args)>(args)...);
                results.emplace_back();
            } else {
                results.push_back(fn(std::forward<decltype(args)>(args)...));
            }
        };
        if constexpr (sizeof...(Args) == 1) {
            if (!star) {
                auto items = in.get<std::vector<std::decay_t<Args>...>>();
                results.reserve(items.size());
                for (auto& item : items) call(std::move(item));
                out.put(results);
                return;
            }
        }
        auto items = in.get<std::vector<arguments>>();
        results.reserve(items.size());
        for (auto& item : items) std::apply(call, std::move(item));
        out.put(results);
    }
};

}  // namespace detail

template <class Signature>
class task;

/// A handle to a registered task, made by STRATA_TASK. It knows the task's
/// signature, so pool verbs check arguments and result types at compile time.
template <class R, class... Args>
class task<R(Args...)> {
public:
    using result_type = R;
    using arguments = std::tuple<std::decay_t<Args>...>;

    constexpr explicit task(std::string_view name) : name_(name) {}
    std::string_view name() const noexcept { return name_; }

private:
    std::string_view name_;
};

namespace detail {

template <class R, class... Args>
task<R(Args...)> make_task(std::string_view name, R (*function)(Args...)) {
    static_assert((encodable<std::decay_t<Args>> && ...),
                  "strata: a task argument type cannot cross processes; specialize strata::codec<T>");
    static_assert(std::is_void_v<R> || encodable<R>,
                  "strata: a task result type cannot cross processes; specialize strata::codec<T>");
    using binding = task_binding<R, Args...>;
    task_entry entry;
    entry.name = std::string(name);
    entry.function = reinterpret_cast<void (*)()>(function);
    entry.result_tag = type_tag<stored_result<R>>();
    entry.chunk_result_tag = type_tag<std::vector<stored_result<R>>>();
    entry.result_type = type_name(typeid(stored_result<R>));
    entry.argument_tag = type_tag<typename binding::arguments>();
    entry.argument_types = type_name(typeid(typename binding::arguments));
    entry.invoke = &binding::invoke;
    entry.invoke_chunk = &binding::invoke_chunk;
    register_task(std::move(entry));
    return task<R(Args...)>(name);
}

}  // namespace detail

}  // namespace strata

/// Registers `function` (a function or a lambda without captures) as a task
/// named after `handle`, and defines `handle`, a strata::task you pass to the
/// pool. Task names must be unique in the program.
///
///     STRATA_TASK(square, [](std::int64_t x) { return x * x; });
///     auto squares = pool.map(square, std::vector<std::int64_t>{1, 2, 3});
#define STRATA_TASK(handle, ...) \
    inline const auto handle = ::strata::detail::make_task(#handle, +(__VA_ARGS__))
