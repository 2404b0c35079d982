#!/usr/bin/python3
"""Streaming: time and memory of a blur through images of any height, against
libvips doing the same, in one run whose rounds alternate the tools.

    /usr/bin/python3 bench/stream_bench.py [--rounds 3] [--workers 2] [--out bench/results/DATE-vm-streaming]

Workloads (gaussblur sigma 3 to JPEG Q90; vips with --min-ampl 0.01, which
gives the kernel OpenCV uses for sigma 3: 19 taps):
- a 20480x20480 JPEG: `strata apply` against `vips gaussblur`, and the same
  file converted with no filter (`strata apply` without -f against
  `vips copy`, both to JPEG Q90);
- 40960x10240 and 40960x40960 JPEGs (1.2 and 5 GB decoded): strata only, to
  show that memory does not grow with the height;
- the 20480x20480 image as PNG to a 512 px thumbnail (PNG has no
  shrink-on-load: every row is decoded and averaged as it comes):
  `strata apply -f thumbnail=512` against `vipsthumbnail -s 512`;
- one 4096x4096 photograph: `strata apply` against `vips gaussblur`;
- 8 such photographs: `strata batch` against `xargs -P2 vips gaussblur`.
Memory is sampled every 20 ms over the whole process tree: the sum of the
proportional set sizes (PSS: a page shared by n processes counts 1/n in
each, so shared memory is counted once), and the largest process's peak
resident size (from the kernel). Inputs are made once under --work from the
bundled photographs (bench/driver.py).
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from driver import PHOTOS, fresh, make_inputs, vips, write_report  # noqa: E402


def process_tree(pid):
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    found += process_tree(int(child))
    except OSError:
        pass
    return found


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(command, shell=False):
    """Wall seconds, peak PSS sum of the tree (MiB), peak RSS of its largest process (MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], sum(pss_kib(p) for p in process_tree(process.pid)))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed: {error.strip()}")
    return seconds, peak[0] / 1024, usage.ru_maxrss / 1024


def workload(name, tools, rounds, log):
    samples = {tool: [] for tool in tools}
    names = list(tools)
    for index in range(rounds):
        shift = index % len(names)
        for tool in names[shift:] + names[:shift]:
            samples[tool].append(tools[tool]())
        log(f"{name}: round {index + 1}/{rounds}")
    return {tool: {"median_s": statistics.median(s for s, _, _ in runs),
                   "min_s": min(s for s, _, _ in runs), "max_s": max(s for s, _, _ in runs),
                   "pss_sum_mib": max(p for _, p, _ in runs), "largest_rss_mib": max(r for _, _, r in runs),
                   "rounds_s": [s for s, _, _ in runs]}
            for tool, runs in samples.items()}


def make_big(work, width, height):
    """A width x height JPEG Q90: a bundled photograph enlarged, cropped to the height."""
    path = os.path.join(work, f"big-{width}x{height}.jpg")
    if not os.path.exists(path):
        square = os.path.join(work, f"big-{width}x{width}.jpg")
        if not os.path.exists(square):
            source = os.path.join(PHOTOS, "astronaut.jpg")
            vips("resize", source, square + "[Q=90]", str(width / 512))
        if height != width:
            vips("crop", square, path + "[Q=90]", "0", "0", str(width), str(height))
    return path


def as_png(work, jpeg):
    """`jpeg` saved as a PNG (fastest compression), once."""
    path = os.path.join(work, os.path.basename(jpeg).replace(".jpg", ".png"))
    if not os.path.exists(path):
        vips("copy", jpeg, path + "[compression=1]")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/strata-bench")
    parser.add_argument("--strata", default=os.path.join(ROOT, "build", "release", "src", "cli", "strata"))
    parser.add_argument("--out", default=os.path.join(HERE, "results", f"{datetime.date.today()}-vm-streaming"))
    options = parser.parse_args()
    os.makedirs(options.work, exist_ok=True)

    def log(text):
        print(f"stream_bench: {text}", file=sys.stderr, flush=True)

    strata, w = options.strata, str(options.workers)
    out = os.path.join(options.work, "stream-out")
    big = make_big(options.work, 20480, 20480)
    wide_low, wide_high = make_big(options.work, 40960, 10240), make_big(options.work, 40960, 40960)
    big_png = as_png(options.work, big)
    folder, photos = make_inputs(options.work, 4096, 8)
    log("inputs made")

    def strata_apply(path):
        return lambda: measured([strata, "apply", path, os.path.join(fresh(out), "o.jpg"), "-f", "gaussblur=3",
                                 "-q", "90", "-w", w])

    def strata_convert(path):
        return lambda: measured([strata, "apply", path, os.path.join(fresh(out), "o.jpg"), "-q", "90", "-w", w])

    def vips_blur(path):
        return lambda: measured(["vips", "gaussblur", path, os.path.join(fresh(out), "o.jpg[Q=90]"), "3",
                                 "--min-ampl", "0.01"])

    results = {
        "20480x20480": workload("20480^2", {"strata apply": strata_apply(big), "vips gaussblur": vips_blur(big)},
                                options.rounds, log),
        "20480x20480, no filter": workload("20480^2 convert", {
            "strata apply": strata_convert(big),
            "vips copy": lambda: measured(["vips", "copy", big, os.path.join(fresh(out), "o.jpg[Q=90]")]),
        }, options.rounds, log),
        "20480x20480 PNG to a 512 px thumbnail": workload("thumbnail", {
            "strata apply": lambda: measured([strata, "apply", big_png, os.path.join(fresh(out), "o.jpg"), "-f",
                                              "thumbnail=512", "-q", "90", "-w", w]),
            "vipsthumbnail": lambda: measured(["vipsthumbnail", big_png, "-s", "512", "-o",
                                               os.path.join(fresh(out), "o.jpg[Q=90]")]),
        }, options.rounds, log),
        "40960x10240": workload("40960x10240", {"strata apply": strata_apply(wide_low)}, 1, log),
        "40960x40960": workload("40960^2", {"strata apply": strata_apply(wide_high)}, 1, log),
        "4096x4096": workload("4096^2", {"strata apply": strata_apply(photos[0]), "vips gaussblur": vips_blur(photos[0])},
                              options.rounds + 2, log),
        "8 x 4096x4096": workload("batch", {
            "strata batch": lambda: measured([strata, "batch", folder, fresh(out), "-f", "gaussblur=3", "-q", "90",
                                              "-w", w, "--quiet"]),
            "xargs -P2 vips gaussblur": lambda: measured(
                f"cd '{fresh(out)}' && ls '{folder}'/*.jpg | xargs -P{w} -I{{}} sh -c "
                f"'vips gaussblur \"$1\" \"$(basename \"$1\")[Q=90]\" 3 --min-ampl 0.01' _ {{}}", shell=True),
        }, options.rounds, log),
    }
    big_r, small_r, batch_r = results["20480x20480"], results["4096x4096"], results["8 x 4096x4096"]
    low = results["40960x10240"]["strata apply"]["pss_sum_mib"]
    high = results["40960x40960"]["strata apply"]["pss_sum_mib"]
    verdicts = {
        "20480^2: strata PSS sum / vips peak RSS (bar 2)":
            big_r["strata apply"]["pss_sum_mib"] / big_r["vips gaussblur"]["largest_rss_mib"],
        "20480^2: strata time / vips time (bar 0.9)": big_r["strata apply"]["median_s"] / big_r["vips gaussblur"]["median_s"],
        "20480^2 no filter: strata time / vips copy time":
            results["20480x20480, no filter"]["strata apply"]["median_s"] /
            results["20480x20480, no filter"]["vips copy"]["median_s"],
        "20480^2 no filter: strata PSS sum / vips copy peak RSS":
            results["20480x20480, no filter"]["strata apply"]["pss_sum_mib"] /
            results["20480x20480, no filter"]["vips copy"]["largest_rss_mib"],
        "PNG thumbnail: strata time / vipsthumbnail time":
            results["20480x20480 PNG to a 512 px thumbnail"]["strata apply"]["median_s"] /
            results["20480x20480 PNG to a 512 px thumbnail"]["vipsthumbnail"]["median_s"],
        "PNG thumbnail: strata PSS sum / vipsthumbnail peak RSS":
            results["20480x20480 PNG to a 512 px thumbnail"]["strata apply"]["pss_sum_mib"] /
            results["20480x20480 PNG to a 512 px thumbnail"]["vipsthumbnail"]["largest_rss_mib"],
        "40960^2: strata PSS sum, MiB (bar 256)": high,
        "40960 wide: PSS at 40960 rows / at 10240 rows (bar 1.2)": high / low,
        "4096^2: strata time / vips time (bar 0.85)":
            small_r["strata apply"]["median_s"] / small_r["vips gaussblur"]["median_s"],
        "4096^2: strata largest process / vips (bar 1.5)":
            small_r["strata apply"]["largest_rss_mib"] / small_r["vips gaussblur"]["largest_rss_mib"],
        "8 x 4096^2: speed-up over xargs -P2 vips gaussblur (bar 1.3)":
            batch_r["xargs -P2 vips gaussblur"]["median_s"] / batch_r["strata batch"]["median_s"],
    }
    lines = [f"# Streaming, {datetime.date.today()}", "",
             f"`/usr/bin/python3 bench/stream_bench.py --rounds {options.rounds} --workers {options.workers}`; "
             "gaussblur sigma 3 to JPEG Q90 (vips: --min-ampl 0.01, the same 19 taps); times are whole commands, "
             "median (min-max) of the rounds; PSS sum: the peak of the whole process tree's proportional set size, "
             "sampled every 20 ms; largest RSS: the peak resident size of its largest process.", ""]
    for name, tools in results.items():
        lines += [f"## {name}", "", "| tool | median s | range s | PSS sum MiB | largest RSS MiB |",
                  "|---|---|---|---|---|"]
        for tool, r in tools.items():
            lines.append(f"| {tool} | {r['median_s']:.2f} | {r['min_s']:.2f}-{r['max_s']:.2f} | "
                         f"{r['pss_sum_mib']:.0f} | {r['largest_rss_mib']:.0f} |")
        lines.append("")
    lines += ["## Against the bars", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in verdicts.items()]
    text = "\n".join(lines) + "\n"
    write_report(options.out, text, {"results": results, "verdicts": verdicts})


if __name__ == "__main__":
    main()
