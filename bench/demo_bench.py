#!/usr/bin/env python3
"""Processes, threads or serial on the demos, end to end.

Runs `strata demo sum` and `strata demo sort` on the same inputs with each
backend, taking the backends in turn in every round, and reports the median
of the time each run reports from input to answer (reading and parsing
included; the pool's start-up, a few milliseconds, is reported apart), the
speed-up over serial, and the command's wall-clock time. Writes a Markdown
table, JSON and an SVG chart.

    python3 bench/demo_bench.py [--build build/release] [--rounds 5] [--workers 2]
                                [--out bench/results/demo-DATE]
"""
import argparse
import datetime
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = ("processes", "threads", "serial")


def write_numbers(path, count, seed):
    """count random signed 64-bit integers, one a line (about 20 bytes each)."""
    generator = random.Random(seed)
    with open(path, "w") as out:
        left = count
        while left:
            block = min(left, 100_000)
            out.write("\n".join(str(generator.getrandbits(64) - (1 << 63)) for _ in range(block)) + "\n")
            left -= block


def run(command):
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL if "sort" in command else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - start
    text = (done.stdout or "") + done.stderr
    found = re.search(r"([0-9.]+) s from input to answer", text)
    return float(found.group(1)), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sum-count", type=int, default=20_000_000)
    parser.add_argument("--sort-count", type=int, default=10_000_000)
    parser.add_argument("--out", default=f"bench/results/demo-{datetime.date.today()}")
    options = parser.parse_args()
    strata = os.path.join(options.build, "src", "cli", "strata")
    if not os.access(strata, os.X_OK):
        sys.exit(f"demo_bench: no strata program at {strata} (build it with scripts/setup release)")

    with tempfile.TemporaryDirectory(prefix="strata-demo-bench-") as folder:
        sum_file = os.path.join(folder, "sum.txt")
        sort_file = os.path.join(folder, "sort.txt")
        print(f"writing {options.sum_count} and {options.sort_count} numbers ...", file=sys.stderr)
        write_numbers(sum_file, options.sum_count, 1)
        write_numbers(sort_file, options.sort_count, 2)
        cases = [
            ("sum of a file", "parse-bound", ["demo", "sum", "--input", sum_file]),
            ("sort of a file, printed", "parse, sort and print", ["demo", "sort", "--input", sort_file]),
            ("sum of 0..N-1 in memory", "memory-bound", ["demo", "sum", "--count", str(options.sum_count * 5)]),
            ("sort of random numbers", "CPU-bound", ["demo", "sort", "--random", str(options.sort_count), "-q"]),
        ]
        results = []
        for name, kind, arguments in cases:
            times = {backend: [] for backend in BACKENDS}
            walls = {backend: [] for backend in BACKENDS}
            for round_number in range(options.rounds + 1):
                for backend in BACKENDS:
                    answer, wall = run([strata, *arguments, "-b", backend, "-w", str(options.workers)])
                    if round_number:  # the first round warms the page cache
                        times[backend].append(answer)
                        walls[backend].append(wall)
            row = {"case": name, "kind": kind, "command": " ".join(["strata", *arguments]).replace(folder + "/", "")}
            for backend in BACKENDS:
                row[backend] = {"median": statistics.median(times[backend]), "min": min(times[backend]),
                                "max": max(times[backend]), "wall_median": statistics.median(walls[backend])}
            results.append(row)
            print(f"{name}: " + ", ".join(f"{b} {row[b]['median']:.3f} s" for b in BACKENDS), file=sys.stderr)

    lines = [f"Demos, end to end ({options.workers} workers, median of {options.rounds} rounds, backends in turn)", "",
             "| case | bound by | processes | threads | serial | processes vs serial | threads vs serial |",
             "|---|---|---|---|---|---|---|"]
    for row in results:
        serial = row["serial"]["median"]
        lines.append(f"| {row['case']} | {row['kind']} | " +
                     " | ".join(f"{row[b]['median']:.3f} s ({row[b]['min']:.3f}-{row[b]['max']:.3f})" for b in BACKENDS) +
                     f" | {serial / row['processes']['median']:.2f}x | {serial / row['threads']['median']:.2f}x |")
    table = "\n".join(lines) + "\n"
    print(table)
    os.makedirs(os.path.dirname(options.out) or ".", exist_ok=True)
    with open(options.out + ".md", "w") as out:
        out.write(table)
    with open(options.out + ".json", "w") as out:
        json.dump({"workers": options.workers, "rounds": options.rounds, "results": results}, out, indent=2)
    with open(options.out + ".svg", "w") as out:
        out.write(chart(results))


def chart(results):
    """Horizontal bars: speed-up over serial of each backend, per case."""
    colours = {"processes": "#1f77b4", "threads": "#ff7f0e", "serial": "#999999"}
    bar, gap, left, scale = 14, 18, 210, 150
    height = 40 + len(results) * (3 * bar + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + 3 * scale + 80}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<text x="{left}" y="16">speed-up over serial, end to end (1.0 = serial)</text>']
    y = 30
    for row in results:
        parts.append(f'<text x="4" y="{y + 1.5 * bar + 4}">{row["case"]}</text>')
        for backend in BACKENDS:
            speedup = row["serial"]["median"] / row[backend]["median"]
            parts.append(f'<rect x="{left}" y="{y}" width="{speedup * scale:.1f}" height="{bar - 2}" fill="{colours[backend]}"/>')
            parts.append(f'<text x="{left + speedup * scale + 4:.1f}" y="{y + bar - 4}">{backend} {speedup:.2f}x</text>')
            y += bar
        y += gap
    parts.append(f'<line x1="{left + scale}" y1="24" x2="{left + scale}" y2="{height - 8}" stroke="#333" stroke-dasharray="3,3"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
