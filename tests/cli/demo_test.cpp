// Cli.Demo: `strata demo sum` and `strata demo sort`, their results and their errors.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

#include "support/paths.hpp"
#include "support/temp_folder.hpp"
#include "support/subprocess.hpp"

namespace {

using strata::test::contains;
using strata::test::run_strata;
using strata::test::temp_folder;

// Numbers with every kind of whitespace between them, leading and trailing
// blanks, signs and the int64 extremes: wherever the parts of a text are cut,
// each must be parsed exactly once.
const char* awkward_text = "  12\t-7\r\n+30 9223372036854775807\n\n-9223372036854775808 0\v5\f 44 -1 1000000 3\n";
const char* awkward_total = "total: 1000085\n";  // the two extremes add up to -1
const char* awkward_sorted = "-9223372036854775808\n-7\n-1\n0\n3\n5\n12\n30\n44\n1000000\n9223372036854775807\n";

void write_file(const std::filesystem::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

const char* backends[] = {"processes", "threads", "serial"};

// Processes of process group `group` that are not zombies.
int running_in_group(pid_t group) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const auto close_paren = text.rfind(')');
        if (close_paren == std::string::npos) continue;
        std::istringstream fields(text.substr(close_paren + 2));
        char state = 0;
        int parent = 0;
        int process_group = 0;
        fields >> state >> parent >> process_group;
        if (process_group == group && state != 'Z') ++count;
    }
    return count;
}

}  // namespace

TEST_CASE("Cli.Demo.sum of 0..N-1 is exact on every backend and worker count") {
    for (const char* backend : backends) {
        for (const char* workers : {"1", "2", "3"}) {
            CAPTURE(backend);
            CAPTURE(workers);
            const auto result = run_strata({"demo", "sum", "--count", "1000001", "-b", backend, "-w", workers});
            CHECK(result.exit_code == 0);
            CHECK(contains(result.out, "total: 500000500000\n"));  // n(n-1)/2 for n = 1000001
            CHECK(contains(result.out, "count: 1000001\n"));
            CHECK(contains(result.out, "from input to answer"));
        }
    }
}

TEST_CASE("Cli.Demo.sum reads numbers from standard input and never overflows") {
    auto result = run_strata({"demo", "sum"}, "1 2 3\n-10\n");
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "total: -4\n"));
    // Two int64 maxima overflow 64 bits; the total is still exact.
    result = run_strata({"demo", "sum"}, "9223372036854775807 9223372036854775807");
    CHECK(contains(result.out, "total: 18446744073709551614\n"));
    result = run_strata({"demo", "sum"}, "1 2 three");
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(contains(result.err, "line 1, column 5: token 3 'three' is not an integer"));
}

TEST_CASE("Cli.Demo.sort prints the sorted numbers on every backend") {
    for (const char* backend : backends) {
        CAPTURE(backend);
        const auto result = run_strata({"demo", "sort", "-b", backend, "-w", "2"}, "5 -3 9\n0 9 -9223372036854775808\n");
        CHECK(result.exit_code == 0);
        CHECK(result.out == "-9223372036854775808\n-3\n0\n5\n9\n9\n");
    }
    const auto args = run_strata({"demo", "sort", "3", "+1", "2"});
    CHECK(args.out == "1\n2\n3\n");
}

TEST_CASE("Cli.Demo.sort --random --check verifies a permutation in order") {
    for (const char* backend : backends) {
        CAPTURE(backend);
        const auto result = run_strata({"demo", "sort", "--random", "200001", "--seed", "7", "--check", "-q", "-b", backend, "-w", "3"});
        CHECK(result.exit_code == 0);
        CHECK(result.out.empty());
        CHECK(contains(result.err, "check: sorted, and a permutation of the input"));
    }
}

TEST_CASE("Cli.Demo.sort refuses bad input with the token and its place, printing nothing") {
    auto result = run_strata({"demo", "sort"}, "1 2\n  3 4x 5");
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(contains(result.err, "standard input: line 2, column 5: token 4 '4x' is not an integer"));

    result = run_strata({"demo", "sort"}, "1 99999999999999999999");
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(contains(result.err, "token 2 '99999999999999999999' is out of the 64-bit integer range"));

    result = run_strata({"demo", "sort", "1", "x"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "argument 2 'x' is not an integer"));

    result = run_strata({"demo", "sort"}, " \n ");
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(contains(result.err, "no numbers to sort"));

    result = run_strata({"demo", "sort", "--backend", "gpu", "1"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--backend: 'gpu' is not one of processes, threads, serial"));
}

TEST_CASE("Cli.Demo.SIGINT stops a run quietly: workers print nothing and none survive") {
    // A sort big enough to be interrupted in the middle.
    pid_t group = 0;
    const auto result = strata::test::run_strata_while({"demo", "sort", "--random", "40000000", "-q", "-w", "2"},
                                                       [&](pid_t pid) {
                                                           group = pid;
                                                           std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                                                           ::kill(-pid, SIGINT);  // Ctrl-C reaches the whole group
                                                       });
    CHECK(result.exit_code == -SIGINT);
    CHECK(result.out.empty());
    CHECK(result.err.empty());
    // Nothing of the group is left running (an exited orphan may linger as a
    // zombie until the system reaps it; it runs nothing).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(running_in_group(group) == 0);
}

TEST_CASE("Cli.Demo.a file or standard input is parsed in parts: every token once, wherever the parts are cut") {
    temp_folder folder;
    const auto file = (folder.path / "numbers.txt").string();
    write_file(file, awkward_text);
    // 1 to 13 parts put the cuts at most places of the 76-byte text, inside
    // tokens and between them; the threads run the workers' own code.
    for (int workers = 1; workers <= 13; ++workers) {
        CAPTURE(workers);
        const auto w = std::to_string(workers);
        auto result = run_strata({"demo", "sum", "--input", file, "-b", "threads", "-w", w});
        CHECK(result.exit_code == 0);
        CHECK(contains(result.out, awkward_total));
        CHECK(contains(result.out, "count: 11\n"));
        result = run_strata({"demo", "sort", "--input", file, "-b", "threads", "-w", w});
        CHECK(result.exit_code == 0);
        CHECK(result.out == awkward_sorted);
    }
    for (const char* backend : backends) {
        CAPTURE(backend);
        for (const char* workers : {"2", "3"}) {
            CAPTURE(workers);
            // From a file, from a pipe (copied into memory) and from a redirected file (mapped).
            auto result = run_strata({"demo", "sum", "--input", file, "-b", backend, "-w", workers});
            CHECK(contains(result.out, awkward_total));
            result = run_strata({"demo", "sum", "-b", backend, "-w", workers}, awkward_text);
            CHECK(contains(result.out, awkward_total));
            CHECK(contains(result.out, "steps: read "));
            result = strata::test::run({"/bin/sh", "-c", strata::test::strata_exe().string() + " demo sort -b " + backend +
                                                             " -w " + workers + " < '" + file + "'"});
            CHECK(result.out == awkward_sorted);
            CHECK_FALSE(contains(result.err, "steps: read"));
        }
    }
}

TEST_CASE("Cli.Demo.a bad token in any part keeps its line, column and number") {
    temp_folder folder;
    // 30,000 lines; the bad token sits in the last part, far from the first.
    std::string text;
    for (int line = 1; line <= 30000; ++line) text += std::to_string(line) + " " + std::to_string(-line) + "\n";
    const std::string bad = text + "7 8 9 x10 11\n";
    const auto file = (folder.path / "bad.txt").string();
    write_file(file, bad);
    for (const char* backend : backends) {
        CAPTURE(backend);
        for (const char* demo : {"sum", "sort"}) {
            CAPTURE(demo);
            const auto result = run_strata({"demo", demo, "--input", file, "-b", backend, "-w", "2"});
            CHECK(result.exit_code == 2);
            CHECK(result.out.empty());
            CHECK(contains(result.err, "bad.txt: line 30001, column 7: token 60004 'x10' is not an integer"));
        }
    }
    // A token cut by the boundary between two parts, and the first error
    // wins when several parts have one.
    const std::string two_bad = "1 2 3 +-4 " + std::string(40, '5') + " 6\n" + text + "z\n";
    for (const char* workers : {"1", "2", "3", "4"}) {
        CAPTURE(workers);
        const auto result = run_strata({"demo", "sum", "-b", "threads", "-w", workers}, two_bad);
        CHECK(result.exit_code == 2);
        CHECK(contains(result.err, "standard input: line 1, column 7: token 4 '+-4' is not an integer"));
    }
    auto result = run_strata({"demo", "sum", "--input", (folder.path / "missing.txt").string()});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "cannot read " + (folder.path / "missing.txt").string() + ": No such file or directory"));
    result = run_strata({"demo", "sort", "--input", folder.path.string()});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "it is a folder"));
}

TEST_CASE("Cli.Demo.sort --random gives the same numbers whatever the backend and the number of workers") {
    const auto expected = run_strata({"demo", "sort", "--random", "1001", "--seed", "5", "-b", "serial"});
    REQUIRE(expected.exit_code == 0);
    CHECK(std::count(expected.out.begin(), expected.out.end(), '\n') == 1001);
    for (const char* backend : backends) {
        for (const char* workers : {"1", "2", "3"}) {
            CAPTURE(backend);
            CAPTURE(workers);
            const auto result = run_strata({"demo", "sort", "--random", "1001", "--seed", "5", "-b", backend, "-w", workers});
            CHECK(result.out == expected.out);
        }
    }
    CHECK(run_strata({"demo", "sort", "--random", "1001", "--seed", "6"}).out != expected.out);
}
