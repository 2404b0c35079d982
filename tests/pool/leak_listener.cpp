// After every test of the pool suite: no descriptor more than before it, no
// child process (not even a zombie), no new /dev/shm entry. A leak names
// the test and what leaked, and fails the run.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "support/leaks.hpp"
#include "support/listener_failures.hpp"

namespace {

struct leak_listener : doctest::IReporter {
    explicit leak_listener(const doctest::ContextOptions&) {}

    void test_case_start(const doctest::TestCaseData&) override { before_ = strata::test::leak_check{}; }

    void test_case_end(const doctest::CurrentTestCaseStats&) override {
        const auto fds = strata::test::open_fds();
        const auto shm = strata::test::entries("/dev/shm");
        std::string leaked;
        for (const auto& fd : fds) {
            if (!before_.fds.contains(fd)) leaked += " descriptor " + fd + ";";
        }
        if (!strata::test::no_children()) leaked += " a child process;";
        for (const auto& name : shm) {
            if (!before_.shm.contains(name)) leaked += " /dev/shm/" + name + ";";
        }
        if (!leaked.empty()) {
            std::fprintf(stderr, "leak after test '%s':%s\n", doctest::getContextOptions()->currentTest->m_name,
                         leaked.c_str());
            strata::test::listener_failures += 1;
        }
    }

    // Unused events.
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

private:
    strata::test::leak_check before_;
};

REGISTER_LISTENER("leaks", 1, leak_listener);

}  // namespace
