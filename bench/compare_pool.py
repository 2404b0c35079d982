#!/usr/bin/env python3
"""Side by side, in one run: strata's pool and demos against their serial
versions and against Python's multiprocessing on the same machine.

    scripts/setup release && python3 bench/compare_pool.py [--workers 2] [--quick] [--json FILE]
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import time


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def increment(x):
    return x + 1


def python_apply_async(workers, tasks):
    with multiprocessing.Pool(workers) as pool:
        pool.apply_async(increment, (0,)).get()  # warm-up
        start = time.perf_counter()
        results = [pool.apply_async(increment, (i,)) for i in range(tasks)]
        total = sum(r.get() for r in results)
        seconds = time.perf_counter() - start
    assert total == tasks * (tasks + 1) // 2
    return tasks / seconds


def python_executor(workers, tasks):
    with concurrent.futures.ProcessPoolExecutor(workers) as executor:
        executor.submit(increment, 0).result()
        start = time.perf_counter()
        futures = [executor.submit(increment, i) for i in range(tasks)]
        total = sum(f.result() for f in futures)
        seconds = time.perf_counter() - start
    assert total == tasks * (tasks + 1) // 2
    return tasks / seconds


def python_sum(workers, count):
    """The classic exercise: split a list into one chunk per process, sum the chunks."""
    numbers = list(range(count))
    start = time.perf_counter()
    serial = sum(numbers)
    serial_seconds = time.perf_counter() - start
    chunk = (count + workers - 1) // workers
    with multiprocessing.Pool(workers) as pool:
        start = time.perf_counter()
        parallel = sum(pool.map(sum, [numbers[i:i + chunk] for i in range(0, count, chunk)]))
        parallel_seconds = time.perf_counter() - start
    assert parallel == serial
    return parallel_seconds, serial_seconds


def strata_sort(strata, backend, workers, count):
    text = run([strata, "demo", "sort", "--random", str(count), "-q", "-w", str(workers), "-b", backend])
    return float(re.search(r"in ([0-9.]+) s", text).group(1))


def strata_sum(strata, backend, workers, count):
    """Seconds from input to answer: each worker fills its part of 0..count-1 and sums it."""
    text = run([strata, "demo", "sum", "--count", str(count), "-w", str(workers), "-b", backend])
    return float(re.search(r"^time: ([0-9.]+) s", text, re.M).group(1))


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release", help="meson build folder (default: build/release)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of each strata measurement (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    strata = os.path.join(args.build, "src", "cli", "strata")
    pool_bench = os.path.join(args.build, "bench", "pool_bench")
    sort_count = 1_000_000 if args.quick else 10_000_000
    sum_count = 10_000_000 if args.quick else 100_000_000
    python_tasks = 5_000 if args.quick else 50_000
    python_sum_count = 1_000_000 if args.quick else 10_000_000
    rows = []

    def add(what, value, unit, note=""):
        rows.append({"measurement": what, "value": value, "unit": unit, "note": note})
        print(f"{what:<58} {value:>14,.3f} {unit:<8} {note}", flush=True)

    bench_json = "/tmp/strata-pool-bench.json"
    run([pool_bench, "--workers", str(args.workers), "--rounds", str(args.rounds), "--json", bench_json]
        + (["--tasks", "20000", "--items", "1000000"] if args.quick else []))
    with open(bench_json) as f:
        for result in json.load(f)["results"]:
            add("strata pool: " + result["name"], result["median"], result["unit"])
    add("python Pool.apply_async, all submitted then collected", python_apply_async(args.workers, python_tasks), "tasks/s")
    add("python ProcessPoolExecutor.submit, same", python_executor(args.workers, python_tasks // 2), "tasks/s")

    for backend in ("processes", "threads", "serial"):
        seconds = median([strata_sort(strata, backend, args.workers, sort_count) for _ in range(args.rounds)])
        add(f"strata demo sort {sort_count:,} int64, {backend}", seconds, "s")
    for backend in ("processes", "threads", "serial"):
        seconds = median([strata_sum(strata, backend, args.workers, sum_count) for _ in range(args.rounds)])
        add(f"strata demo sum {sum_count:,} int64 (fill and sum), {backend}", seconds, "s")
    parallel, serial = python_sum(args.workers, python_sum_count)
    add(f"python Pool.map(sum, chunks) {python_sum_count:,} ints", parallel, "s",
        f"serial sum(): {serial:.4f} s ({parallel / serial:.0f}x slower in parallel)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"host": platform.node(), "cpus": os.cpu_count(), "workers": args.workers,
                       "quick": args.quick, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
