// Cli.Bench: `strata bench` sweeps, its table, JSON and CSV, and its errors.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/paths.hpp"
#include "support/subprocess.hpp"
#include "support/temp_folder.hpp"

namespace {

namespace fs = std::filesystem;
using strata::test::contains;
using strata::test::run_strata;
using strata::test::temp_folder;
using strata::test::testdata;

}  // namespace

TEST_CASE("Cli.Bench.sweeps every backend, worker count and strip count, and writes it all") {
    temp_folder folder;
    const auto json_path = (folder.path / "bench.json").string();
    const auto csv_path = (folder.path / "bench.csv").string();
    const auto result = run_strata({"bench", "--size", "96", "-f", "gaussblur=2", "-f", "invert", "-w", "1,2",
                                    "--strips", "0,5", "--rounds", "2", "--warmup", "0", "--json", json_path, "--csv",
                                    csv_path});
    REQUIRE(result.exit_code == 0);
    CHECK(contains(result.out, "image: 96x96, 3 bands"));
    CHECK(contains(result.out, "pool overhead, 2 workers: task round trip"));

    const auto json = nlohmann::json::parse(std::ifstream(json_path));
    // Per chain: the baseline, serial at 4 and 5 strips (1 worker), and
    // threads and processes at 2 workers x 2 strip counts.
    const auto& points = json["points"];
    REQUIRE(points.size() == 2 * (1 + 2 + 2 * 2 * 2));
    std::set<std::string> seen;
    for (const auto& p : points) {
        CHECK(p["seconds"].size() == 2);
        CHECK(p["median_s"].get<double>() > 0);
        CHECK(p["min_s"].get<double>() <= p["median_s"].get<double>());
        CHECK(p["median_s"].get<double>() <= p["max_s"].get<double>());
        CHECK(p["speedup"].get<double>() > 0);
        CHECK(p["efficiency"].get<double>() ==
              doctest::Approx(p["speedup"].get<double>() / p["workers"].get<double>()));
        seen.insert(p["chain"].get<std::string>() + " " + p["backend"].get<std::string>() + " " +
                    std::to_string(p["workers"].get<int>()) + " " + std::to_string(p["strips"].get<int>()));
    }
    CHECK(seen.size() == points.size());  // no point twice
    // Rows filtered beyond the image's: none for a point filter or one
    // strip, more for every strip boundary of a neighbourhood filter.
    const auto extra_rows = [&](const std::string& chain, int strips) {
        for (const auto& p : points) {
            if (p["chain"] == chain && p["backend"] == "processes" && p["strips"] == strips) {
                return p["extra_rows_pct"].get<double>();
            }
        }
        FAIL("no point for ", chain, " at ", strips, " strips");
        return -1.0;
    };
    CHECK(extra_rows("invert", 8) == 0);
    CHECK(extra_rows("gaussblur=2", 5) > 0);
    CHECK(extra_rows("gaussblur=2", 8) > extra_rows("gaussblur=2", 5));
    CHECK(seen.contains("invert processes 2 8"));  // 0: four strips per worker
    CHECK(seen.contains("gaussblur=2 threads 1 5"));
    CHECK(json["pool_overhead"].size() == 2);
    for (const auto& o : json["pool_overhead"]) CHECK(o["round_trip_us"].get<double>() > 0);

    std::ifstream csv(csv_path);
    std::string line;
    int rows = -1;  // the header
    while (std::getline(csv, line)) ++rows;
    CHECK(rows == static_cast<int>(points.size()));
}

TEST_CASE("Cli.Bench.reads a given image; bad options are usage errors") {
    auto result = run_strata({"bench", (testdata() / "photos" / "camera.png").string(), "-b", "serial", "--rounds",
                              "1", "-f", "median=3"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "image: 512x512, 1 band,"));
    result = run_strata({"bench", "-b", "gpu"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "'gpu' is not one of processes, threads, serial"));
    result = run_strata({"bench", "-w", "0"});
    CHECK(result.exit_code == 2);
    result = run_strata({"bench", "-f", "blurr"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "unknown filter 'blurr'"));
    result = run_strata({"bench", (testdata() / "broken" / "truncated.jpg").string()});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.err, "premature end of input file"));
}

TEST_CASE("Cli.Bench.the benchmark driver's quick mode writes complete, well-formed results") {
    temp_folder folder;
    const fs::path driver = strata::test::env_path("STRATA_SOURCE") / "bench" / "driver.py";
    const auto result = strata::test::run({"/usr/bin/python3", driver.string(), "--quick", "--out",
                                           (folder.path / "results").string(), "--work", (folder.path / "work").string(),
                                           "--strata", strata::test::strata_exe().string()},
                                          {}, std::chrono::seconds(120));
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    fs::path json_path;
    for (const auto& entry : fs::directory_iterator(folder.path / "results")) {
        if (entry.path().extension() == ".json") json_path = entry.path();
    }
    REQUIRE(!json_path.empty());
    CHECK(json_path.stem().string().ends_with("-quick"));
    CHECK(fs::exists(fs::path(json_path).replace_extension(".md")));
    const auto json = nlohmann::json::parse(std::ifstream(json_path));
    CHECK(json["quick"] == true);
    CHECK(json["machine"]["cpus"].get<int>() >= 1);
    CHECK(!json["sweep"]["points"].empty());
    CHECK(!json["sweep"]["pool_overhead"].empty());
    const std::map<std::string, std::string> strata_tools = {{"single", "strata apply"}, {"folder", "strata batch"},
                                                             {"heavy", "strata apply"},
                                                             {"sum", "strata demo sum, processes"},
                                                             {"sort", "strata demo sort, processes"}};
    for (const auto& [workload, strata_tool] : strata_tools) {
        CAPTURE(workload);
        REQUIRE(json["workloads"].contains(workload));
        const auto& tools = json["workloads"][workload]["tools"];
        CHECK(tools.contains(json["workloads"][workload]["reference"].get<std::string>()));
        CHECK(tools[strata_tool]["median_s"].get<double>() > 0);
        for (const auto& [name, measured] : tools.items()) {
            CAPTURE(name);
            // Every tool was either timed, or skipped with the reason.
            CHECK((measured.contains("median_s") != measured.contains("skipped")));
            if (measured.contains("median_s")) CHECK(measured["rounds_s"].size() == 1);
        }
    }
    // Charts, or the note saying why there are none.
    if (json.contains("charts_note")) {
        CHECK(json["charts"].empty());
    } else {
        CHECK(json["charts"].size() == 3);
        for (const auto& chart : json["charts"]) CHECK(fs::exists(folder.path / "results" / chart.get<std::string>()));
    }
}
