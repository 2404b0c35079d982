// Process, Pipe, Queue: the primitives under the pool.
#include <doctest/doctest.h>

#include <signal.h>

#include <thread>

#include "support/leaks.hpp"
#include "tasks.hpp"

namespace {

STRATA_TASK(pipe_echo_twice, [](strata::pipe_end end) {
    const auto text = end.recv<std::string>();
    end.send(text + text);
});
STRATA_TASK(queue_produce, [](strata::queue q, std::int64_t first, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) q.put(first + i);
});
STRATA_TASK(exit_with, [](int code) { std::exit(code); });
STRATA_TASK(process_fail, [] { throw std::runtime_error("process task failed"); });
STRATA_TASK(count_buffers, [](std::vector<strata::shared_buffer> buffers) { std::exit(static_cast<int>(buffers.size())); });

}  // namespace

TEST_CASE("Process.Task.runs in a child; exit codes follow Python's convention") {
    for (const auto start : {strata::start_method::fork, strata::start_method::spawn}) {
        strata::test::leak_check snapshot;
        {
            strata::process ok(exit_with, 0);
            ok.start_method(start).name("ok").start();
            CHECK(ok.pid() > 0);
            CHECK(ok.join(std::chrono::milliseconds(10'000)));
            CHECK(ok.exitcode() == 0);
            CHECK_FALSE(ok.is_alive());

            strata::process code(exit_with, 7);
            code.start_method(start).start();
            code.join();
            CHECK(code.exitcode() == 7);

            strata::process failing(process_fail);
            failing.start_method(start).start();
            failing.join();
            CHECK(failing.exitcode() == 1);

            strata::process sleeper(pool_tasks::sleep_ms, 10'000);
            sleeper.start_method(start).start();
            CHECK_FALSE(sleeper.join(std::chrono::milliseconds(50)));
            CHECK(sleeper.is_alive());
            sleeper.terminate();
            sleeper.join();
            CHECK(sleeper.exitcode() == -SIGTERM);
            CHECK_THROWS_AS(sleeper.start(), strata::usage_error);
        }
        CHECK_NO_LEAKS(snapshot);
    }
}

TEST_CASE("Process.Task.arguments that cannot be sent fail start() and leave no child") {
    strata::test::leak_check snapshot;
    {
        std::vector<strata::shared_buffer> too_many;
        for (int i = 0; i < 251; ++i) too_many.emplace_back(64);
        strata::process child(count_buffers, too_many);
        CHECK_THROWS_WITH_AS(child.start(), doctest::Contains("at most 250 descriptors"), strata::error);
        CHECK(child.pid() == -1);
    }
    CHECK_NO_LEAKS(snapshot);
}

TEST_CASE("Process.Callable.runs a lambda in a forked child") {
    strata::test::leak_check snapshot;
    {
        strata::shared_value<int> seen(0);
        strata::process child([seen]() mutable { seen.set(99); });
        child.start();
        child.join();
        CHECK(child.exitcode() == 0);
        CHECK(seen.get() == 99);
    }
    CHECK_NO_LEAKS(snapshot);
}

TEST_CASE("Pipe.Duplex.carries values both ways, and ends travel to another process") {
    strata::test::leak_check snapshot;
    {
        auto [here, there] = strata::make_pipe();
        strata::process child(pipe_echo_twice, std::move(there));
        child.start_method(strata::start_method::spawn).start();
        here.send(std::string("ab"));
        CHECK(here.poll(std::chrono::milliseconds(10'000)));
        CHECK(here.recv<std::string>() == "abab");
        child.join();
        CHECK(child.exitcode() == 0);
        // The child is gone and held the only other end: EOF is reported, not hung on.
        CHECK_THROWS_AS(here.recv<std::string>(), strata::channel_closed);
    }
    CHECK_NO_LEAKS(snapshot);
}

TEST_CASE("Pipe.Misuse.wrong type, wrong direction and timeouts are clear errors") {
    auto [reader, writer] = strata::make_pipe(false);
    CHECK_THROWS_AS(reader.send(1), strata::usage_error);
    CHECK_THROWS_AS(writer.recv<int>(), strata::usage_error);
    CHECK_THROWS_AS(reader.recv<int>(std::chrono::milliseconds(20)), strata::channel_timeout);
    writer.send(std::int64_t{5});
    CHECK_THROWS_WITH_AS(reader.recv<std::string>(), doctest::Contains("is not a"), strata::usage_error);
    writer.close();
    CHECK_THROWS_AS(reader.recv<int>(), strata::channel_closed);
}

TEST_CASE("Queue.Producers.several processes put, every value is got exactly once") {
    strata::test::leak_check snapshot;
    {
        strata::queue q;
        std::vector<strata::process> producers;
        for (std::int64_t p = 0; p < 3; ++p) {
            producers.emplace_back(queue_produce, q, p * 1000, std::int64_t{200});
            producers.back().start_method(p == 0 ? strata::start_method::fork : strata::start_method::spawn).start();
        }
        std::multiset<std::int64_t> got;
        for (int i = 0; i < 600; ++i) got.insert(q.get<std::int64_t>(std::chrono::milliseconds(10'000)));
        for (auto& p : producers) p.join();
        CHECK(q.empty());
        std::multiset<std::int64_t> expected;
        for (std::int64_t p = 0; p < 3; ++p) {
            for (std::int64_t i = 0; i < 200; ++i) expected.insert(p * 1000 + i);
        }
        CHECK(got == expected);
    }
    CHECK_NO_LEAKS(snapshot);
}

TEST_CASE("Queue.Close.wakes a blocked reader and refuses new values") {
    strata::queue q;
    q.put(std::string("last"));
    std::thread closer([q]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        q.close();
    });
    CHECK(q.get<std::string>() == "last");  // what was put before close is still delivered
    CHECK_THROWS_AS(q.get<std::string>(), strata::channel_closed);  // blocks until close
    closer.join();
    CHECK_THROWS_AS(q.put(1), strata::channel_closed);
}
