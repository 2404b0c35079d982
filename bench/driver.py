#!/usr/bin/python3
"""strata and its peers on the same inputs, in one run whose rounds alternate
the tools; writes <out>/<date>-<host>.json, a Markdown summary beside it, and
SVG charts.

    scripts/bench [--quick]                       # installs the peers, builds, runs this
    /usr/bin/python3 bench/driver.py [--quick] [--rounds 3] [--workers 2] [--out bench/results]

Workloads, each timed as whole commands (start-up included), median of the
rounds with the range, and the peak resident size of the command's largest
process:
- sweep: `strata bench` over backends x workers x strips on one photograph;
- one image: gaussblur sigma 3 to JPEG Q90;
- a folder of photographs: the same over every file;
- a heavy filter: median 9 on one image;
- the sum and sort demos against their serial versions.
Peers, each only if installed (skipped with a note otherwise): the vips
command, vips under `xargs -P`, GraphicsMagick's and ImageMagick's mogrify,
OpenCV from Python (bench/opencv_peer.py), and the seeds' approach
(bench/seeds_pil.py). `vips gaussblur ... --min-ampl 0.01` uses the 19-tap
kernel OpenCV uses for sigma 3 (equal work); plain `vips gaussblur` (11 taps)
and the mogrify blurs do somewhat less. Inputs are made once under --work from
the bundled photographs: enlarged, with photographic grain, saved as JPEG Q90.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHOTOS = os.path.join(ROOT, "testdata", "photos")
SOURCES = ["astronaut.jpg", "chelsea.jpg", "coffee-rgba.png", "camera.png"]
SYSTEM_PYTHON = "/usr/bin/python3"


# --- inputs -------------------------------------------------------------------

def vips(*arguments):
    subprocess.run(["vips", *arguments], check=True, capture_output=True)


def make_photo(source, target, size, seed, mirrored):
    """A SIZE x SIZE RGB JPEG from a bundled photograph, with grain."""
    stem = target[:-4]
    steps = [stem + suffix for suffix in ("-a.v", "-b.v", "-c.v", "-d.v", "-e.v", "-f.v", "-n.v")]
    vips("thumbnail", source, steps[0], str(size), "--height", str(size), "--size", "both", "--crop", "centre")
    vips("colourspace", steps[0], steps[1], "srgb")
    vips("extract_band", steps[1], steps[2], "0", "--n", "3")
    if mirrored:
        vips("flip", steps[2], steps[3], "horizontal")
    else:
        shutil.copy(steps[2], steps[3])
    bands = []
    for band in range(3):
        name = f"{stem}-n{band}.v"
        vips("gaussnoise", name, str(size), str(size), "--sigma", "5", "--mean", "0", "--seed", str(seed * 3 + band))
        bands.append(name)
    vips("bandjoin", " ".join(bands), steps[6])
    vips("add", steps[3], steps[6], steps[4])
    vips("cast", steps[4], steps[5], "uchar")
    vips("copy", steps[5], target + "[Q=90]")
    for leftover in steps + bands:
        os.remove(leftover)


def make_inputs(work, size, count):
    folder = os.path.join(work, f"photos-{size}-{count}")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(count):
        path = os.path.join(folder, f"photo-{index + 1}.jpg")
        if not os.path.exists(path):
            source = os.path.join(PHOTOS, SOURCES[index % len(SOURCES)])
            make_photo(source, path, size, index, mirrored=index >= len(SOURCES))
        paths.append(path)
    return folder, paths


# --- measuring ----------------------------------------------------------------

def timed(command, shell=False, cwd=None):
    """Wall seconds and peak RSS (MiB) of the largest process of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, shell=shell, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed: {error.strip()}")
    return seconds, usage.ru_maxrss / 1024


def fresh(folder):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def summary(samples):
    times = [s for s, _ in samples]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "peak_mib": max(m for _, m in samples), "rounds_s": times}


def run_workload(name, tools, rounds, log):
    """Every available tool once per round, the order rotating from round to round."""
    results = {tool: {"skipped": why} for tool, (run, why) in tools.items() if run is None}
    runnable = [tool for tool, (run, _) in tools.items() if run is not None]
    samples = {tool: [] for tool in runnable}
    for round_index in range(rounds):
        shift = round_index % max(1, len(runnable))
        for tool in runnable[shift:] + runnable[:shift]:
            samples[tool].append(tools[tool][0]())
        log(f"{name}: round {round_index + 1}/{rounds}")
    for tool in tools:
        if tool in samples:
            results[tool] = summary(samples[tool])
    return {tool: results[tool] for tool in tools}  # in the order given


def output_of(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return (done.stdout + done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def python_has(module):
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, "-c", f"import {module}"], capture_output=True).returncode == 0


# --- report -------------------------------------------------------------------

def write_report(out, text, data):
    """`text` to OUT.md and `data` to OUT.json (making the folder), and `text` to standard output."""
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out + ".md", "w") as f:
        f.write(text)
    with open(out + ".json", "w") as f:
        json.dump(data, f, indent=2)
    print(text)


def workload_table(workload):
    reference = workload["reference"]
    base = workload["tools"][reference]["median_s"]
    lines = [f"| tool | median s | range s | time / {reference} | peak MiB |", "|---|---|---|---|---|"]
    for tool, r in workload["tools"].items():
        if "skipped" in r:
            lines.append(f"| {tool} | skipped: {r['skipped']} | | | |")
        else:
            peak = f"{r['peak_mib']:.0f}" if r["peak_mib"] else "-"
            lines.append(f"| {tool} | {r['median_s']:.3f} | {r['min_s']:.3f}-{r['max_s']:.3f} | "
                         f"{r['median_s'] / base:.2f} | {peak} |")
    return "\n".join(lines)


def sweep_table(sweep):
    lines = ["| chain | backend | workers | strips | median s | speed-up | efficiency | halo rows | est. overhead s |",
             "|---|---|---|---|---|---|---|---|---|"]
    backends = {"serial": 0, "threads": 1, "processes": 2}
    chains = list(dict.fromkeys(p["chain"] for p in sweep["points"]))
    ordered = sorted(sweep["points"], key=lambda p: (chains.index(p["chain"]), not p["baseline"],
                                                     backends[p["backend"]], p["workers"], p["strips"]))
    for p in ordered:
        backend = "serial, whole image" if p["baseline"] else p["backend"]
        overhead = f"{p['estimated_overhead_s']:.4f}" if p["backend"] == "processes" else "-"
        lines.append(f"| `{p['chain']}` | {backend} | {p['workers']} | {p['strips']} | {p['median_s']:.4f} | "
                     f"{p['speedup']:.2f}x | {100 * p['efficiency']:.0f}% | +{p['extra_rows_pct']:.0f}% | {overhead} |")
    return "\n".join(lines)


def make_charts(results, out, stem, kind):
    """Charts (SVG or PNG) with matplotlib; a note instead if it is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "matplotlib is not installed (apt-get install python3-matplotlib): no charts"
    sweep = results["sweep"]
    megapixels = sweep["image"]["width"] * sweep["image"]["height"] / 1e6
    chains = list(dict.fromkeys(p["chain"] for p in sweep["points"]))
    files = []

    def save(figure, what):
        figure.tight_layout()
        files.append(f"{stem}-{what}.{kind}")
        figure.savefig(os.path.join(out, files[-1]))
        plt.close(figure)

    figure, axes = plt.subplots(1, len(chains), figsize=(5.5 * len(chains), 4), squeeze=False)
    for axis, chain in zip(axes[0], chains):
        for backend in ("serial", "threads", "processes"):
            points = sorted((p["workers"], megapixels / p["median_s"]) for p in sweep["points"]
                            if p["chain"] == chain and p["backend"] == backend and p["strips_asked"] == 0)
            if points:
                axis.plot([w for w, _ in points], [t for _, t in points], marker="o", label=backend)
        axis.set_xticks(sorted({p["workers"] for p in sweep["points"]}))
        axis.set_title(f"{chain}: throughput vs workers")
        axis.set_xlabel("workers")
        axis.set_ylabel("megapixels / s")
        axis.legend()
        axis.grid(alpha=0.3)
    save(figure, "workers")

    most = max(p["workers"] for p in sweep["points"])
    figure, axes = plt.subplots(1, len(chains), figsize=(5.5 * len(chains), 4), squeeze=False)
    for axis, chain in zip(axes[0], chains):
        for backend in ("serial", "threads", "processes"):
            workers = 1 if backend == "serial" else most
            points = sorted((p["strips"], p["median_s"]) for p in sweep["points"]
                            if p["chain"] == chain and p["backend"] == backend and p["workers"] == workers)
            if points:
                axis.plot([s for s, _ in points], [t for _, t in points], marker="o",
                          label=f"{backend}, {workers} worker{'s' if workers > 1 else ''}")
        axis.set_xscale("log", base=2)
        strip_counts = sorted({p["strips"] for p in sweep["points"] if p["chain"] == chain})
        axis.set_xticks(strip_counts, [str(s) for s in strip_counts])
        axis.set_title(f"{chain}: time vs strips")
        axis.set_xlabel("strips")
        axis.set_ylabel("seconds")
        axis.legend()
        axis.grid(alpha=0.3)
    save(figure, "strips")

    compared = [key for key in ("single", "folder", "heavy") if key in results["workloads"]]
    figure, axes = plt.subplots(len(compared), 1, figsize=(9, 2.2 + 0.45 * 7 * len(compared)), squeeze=False)
    for axis, key in zip(axes[:, 0], compared):
        workload = results["workloads"][key]
        timed_tools = [(tool, r) for tool, r in workload["tools"].items() if "median_s" in r]
        names = [tool for tool, _ in timed_tools][::-1]
        medians = [r["median_s"] for _, r in timed_tools][::-1]
        low = [r["median_s"] - r["min_s"] for _, r in timed_tools][::-1]
        high = [r["max_s"] - r["median_s"] for _, r in timed_tools][::-1]
        colours = ["tab:blue" if name.startswith("strata") else "tab:gray" for name in names]
        axis.barh(names, medians, xerr=[low, high], color=colours)
        axis.set_title(workload["title"])
        axis.set_xlabel("seconds (median, range over the rounds); shorter is better")
        axis.grid(axis="x", alpha=0.3)
    save(figure, "peers")
    return files, None


def markdown(results, charts, chart_note):
    s = results["settings"]
    m = results["machine"]
    lines = [f"# strata benchmark, {results['date']} on {m['host']}", "",
             f"Machine: {m['cpus']} CPUs, {m['memory_gib']:.0f} GiB, {m['system']}. "
             f"Run: `{results['command']}` ({results['seconds']:.0f} s in all).", "",
             f"Photographs: {s['size']}x{s['size']} JPEG Q90 ({s['size'] ** 2 / 1e6:.1f} MP); {s['workers']} workers; "
             f"{s['rounds']} rounds alternating the tools; times are whole commands, start-up included.", ""]
    lines += ["Versions: " + "; ".join(v for v in results["versions"].values() if v), ""]
    for key in ("single", "folder", "heavy", "sum", "sort"):
        if key in results["workloads"]:
            workload = results["workloads"][key]
            lines += [f"## {workload['title']}", "", workload_table(workload), ""]
            if workload.get("note"):
                lines += [workload["note"], ""]
    sweep = results["sweep"]
    lines += ["## strata bench: backends x workers x strips", "",
              f"`{' '.join(sweep['command'])}`", ""]
    lines += ["Pool overhead: " + "; ".join(
        f"{o['workers']} worker{'s' if o['workers'] > 1 else ''}: task round trip {o['round_trip_us']:.0f} us, "
        f"strip dispatch {o['strip_dispatch_us']:.0f} us per strip" for o in sweep["pool_overhead"]), ""]
    lines += [sweep_table(sweep), "",
              "Halo rows: rows filtered beyond the image's own, as each strip also filters the rows its "
              "neighbours need around it; est. overhead: strips x strip dispatch.", ""]
    if charts:
        lines += ["## Charts", ""] + [f"![{chart}]({chart})" for chart in charts] + [""]
    elif chart_note:
        lines += [f"Charts: {chart_note}.", ""]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, "build", "release", "src", "cli", "strata"))
    parser.add_argument("--work", default="/tmp/strata-bench", help="where inputs are made and outputs written")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="where results go")
    parser.add_argument("--size", type=int, default=4096, help="photographs are SIZE x SIZE")
    parser.add_argument("--files", type=int, default=8, help="photographs in the folder workload")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--charts", choices=("svg", "png"), default="svg", help="chart format")
    parser.add_argument("--quick", action="store_true", help="small inputs and one round, in well under a minute")
    options = parser.parse_args()
    if options.quick:
        options.size, options.files, options.rounds = 512, 4, 1
    if shutil.which("vips") is None:
        sys.exit("driver: needs the vips command to make its inputs (Debian's libvips-tools)")
    if not os.access(options.strata, os.X_OK):
        sys.exit(f"driver: {options.strata} is not built; run scripts/setup release")
    started = time.perf_counter()
    quiet = not sys.stderr.isatty()

    def log(text):
        if not quiet:
            print(f"driver: {text}", file=sys.stderr, flush=True)

    sys.path.insert(0, HERE)
    from compare_pool import strata_sort, strata_sum  # the demos' own timings

    folder, photos = make_inputs(options.work, options.size, options.files)
    out_dir = os.path.join(options.work, "out")
    strata = options.strata
    w = str(options.workers)
    has_gm = shutil.which("gm") is not None
    has_magick = shutil.which("mogrify") is not None and "ImageMagick" in output_of(["mogrify", "-version"])
    has_cv2 = python_has("cv2")
    has_pil = python_has("PIL")
    missing = {"gm": "GraphicsMagick not installed (apt-get install graphicsmagick)",
               "magick": "ImageMagick not installed (apt-get install imagemagick)",
               "cv2": "OpenCV for Python not installed (apt-get install python3-opencv)",
               "pil": "PIL not installed (apt-get install python3-pil)"}

    def tool(available, key, run):
        return (run, None) if available else (None, missing[key])

    def out(name="a.jpg"):
        return os.path.join(fresh(out_dir), name)

    peer_python = [SYSTEM_PYTHON, os.path.join(HERE, "opencv_peer.py")]
    seeds = [SYSTEM_PYTHON, os.path.join(HERE, "seeds_pil.py")]
    single = photos[0]
    names = [os.path.basename(p) for p in photos]
    workloads = {}

    # The sweep first: strata alone on one photograph.
    sweep_json = os.path.join(options.work, "sweep.json")
    sweep_command = [strata, "bench", single, "-f", "gaussblur=sigma=3", "-f", "bilateral=diameter=9",
                     "-w", f"1,{w}", "--strips", "0,2,8,32,128" if not options.quick else "0,8",
                     "--rounds", str(max(1, options.rounds)), "--json", sweep_json, "--quiet"]
    log("sweep (strata bench)")
    subprocess.run(sweep_command, check=True)
    with open(sweep_json) as f:
        sweep = json.load(f)
    sweep["command"] = ["strata"] + sweep_command[1:-3] + ["--json", "FILE"]
    sweep["command"][2] = "PHOTO"

    log("one image")
    workloads["single"] = {
        "title": f"One image: gaussblur sigma 3 to JPEG Q90", "reference": "strata apply",
        "tools": run_workload("one image", {
            "strata apply": (lambda: timed([strata, "apply", single, out(), "-f", "gaussblur=sigma=3", "-q", "90",
                                            "-w", w]), None),
            "vips gaussblur --min-ampl 0.01": (lambda: timed(["vips", "gaussblur", single, out() + "[Q=90]", "3",
                                                              "--min-ampl", "0.01"]), None),
            "vips gaussblur (11 taps)": (lambda: timed(["vips", "gaussblur", single, out() + "[Q=90]", "3"]), None),
            "gm mogrify -blur 0x3": tool(has_gm, "gm", lambda: timed(
                ["gm", "mogrify", "-output-directory", fresh(out_dir), "-blur", "0x3", "-quality", "90", names[0]],
                cwd=folder)),
            "ImageMagick mogrify -blur 0x3": tool(has_magick, "magick", lambda: timed(
                ["mogrify", "-path", fresh(out_dir), "-blur", "0x3", "-quality", "90", single])),
            "OpenCV from Python": tool(has_cv2, "cv2", lambda: timed(
                peer_python + [fresh(out_dir), single, "--gaussblur", "3", "--threads", w])),
            "seeds: Python + PIL, a process per strip": tool(has_pil, "pil", lambda: timed(
                seeds + [fresh(out_dir), single, "--processes", w, "--radius", "3"])),
        }, options.rounds, log)}

    log("folder")
    xargs = ("ls *.jpg | xargs -P{w} -I{{}} vips gaussblur {{}} {out}/{{}}[Q=90] 3{extra}")
    workloads["folder"] = {
        "title": f"A folder of {options.files} photographs: gaussblur sigma 3 to JPEG Q90", "reference": "strata batch",
        "tools": run_workload("folder", {
            "strata batch": (lambda: timed([strata, "batch", folder, fresh(out_dir), "-f", "gaussblur=sigma=3",
                                            "-q", "90", "-w", w, "--quiet"]), None),
            f"xargs -P{w} vips --min-ampl 0.01": (lambda: timed(
                xargs.format(w=w, out=fresh(out_dir), extra=" --min-ampl 0.01"), shell=True, cwd=folder), None),
            f"xargs -P{w} vips (11 taps)": (lambda: timed(
                xargs.format(w=w, out=fresh(out_dir), extra=""), shell=True, cwd=folder), None),
            "gm mogrify -blur 0x3": tool(has_gm, "gm", lambda: timed(
                ["gm", "mogrify", "-output-directory", fresh(out_dir), "-blur", "0x3", "-quality", "90", *names],
                cwd=folder)),
            "ImageMagick mogrify -blur 0x3": tool(has_magick, "magick", lambda: timed(
                ["mogrify", "-path", fresh(out_dir), "-blur", "0x3", "-quality", "90", *photos])),
            "OpenCV from Python, a process per file": tool(has_cv2, "cv2", lambda: timed(
                peer_python + [fresh(out_dir), *photos, "--gaussblur", "3", "--processes", w])),
            "seeds: Python + PIL, a process per strip": tool(has_pil, "pil", lambda: timed(
                seeds + [fresh(out_dir), *photos, "--processes", w, "--radius", "3"])),
        }, options.rounds, log)}

    log("heavy filter")
    workloads["heavy"] = {
        "title": "A heavy filter: median 9x9 on one image, to JPEG Q90", "reference": "strata apply",
        "note": "mogrify's median is left out: GraphicsMagick took 28 s for one such image here.",
        "tools": run_workload("heavy", {
            "strata apply": (lambda: timed([strata, "apply", single, out(), "-f", "median=size=9", "-q", "90",
                                            "-w", w]), None),
            "vips rank 9x9 (median)": (lambda: timed(["vips", "rank", single, out() + "[Q=90]", "9", "9", "40"]),
                                       None),
            "OpenCV from Python": tool(has_cv2, "cv2", lambda: timed(
                peer_python + [fresh(out_dir), single, "--median", "9", "--threads", w])),
        }, options.rounds, log)}

    log("demos")
    sum_count = 10_000_000 if options.quick else 100_000_000
    sort_count = 1_000_000 if options.quick else 10_000_000
    def demo_workload(title, note, tool, measure):
        """The serial, processes and threads runs of one demo; `measure(backend)` times one run."""
        tools = {}
        for backend in ("serial", "processes", "threads"):
            times = [measure(backend) for _ in range(options.rounds)]
            tools["serial" if backend == "serial" else f"{tool}, {backend}"] = {
                "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "peak_mib": 0,
                "rounds_s": times}
        return {"title": title, "reference": "serial", "note": note, "tools": tools}

    workloads["sum"] = demo_workload(
        f"Demo: sum of {sum_count:,} int64",
        "Times from `strata demo sum --count N`: each worker fills its part of 0..N-1 and sums it "
        "(no start-up); peak memory is not measured here.",
        "strata demo sum", lambda backend: strata_sum(strata, backend, options.workers, sum_count))
    workloads["sort"] = demo_workload(
        f"Demo: sort of {sort_count:,} random int64",
        "Times from `strata demo sort --random N -q`: each worker generates and sorts its part, then the "
        "parts are merged; serial is one std::sort.",
        "strata demo sort", lambda backend: strata_sort(strata, backend, options.workers, sort_count))

    date = datetime.date.today().isoformat()
    host = platform.node() or "host"
    stem = f"{date}-{host}" + ("-quick" if options.quick else "")
    with open("/proc/meminfo") as f:
        memory_kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    results = {
        "date": date,
        "machine": {"host": host, "cpus": os.cpu_count(), "memory_gib": memory_kib / 2**20,
                    "system": platform.platform()},
        "command": "scripts/bench" + (" --quick" if options.quick else ""),
        "quick": options.quick,
        "settings": {"size": options.size, "files": options.files, "rounds": options.rounds,
                     "workers": options.workers},
        "versions": {
            "strata": output_of([strata, "--version"]),
            "libvips": output_of(["vips", "--version"]),
            "GraphicsMagick": output_of(["gm", "version"]).split("\n")[0] if has_gm else None,
            "ImageMagick": output_of(["mogrify", "-version"]).split("\n")[0].removeprefix("Version: ")
            if has_magick else None,
            "OpenCV (Python)": output_of([SYSTEM_PYTHON, "-c", "import cv2; print('OpenCV-Python', cv2.__version__)"])
            if has_cv2 else None,
            "PIL": output_of([SYSTEM_PYTHON, "-c", "import PIL; print('PIL', PIL.__version__)"]) if has_pil else None,
        },
        "sweep": sweep,
        "workloads": workloads,
    }
    os.makedirs(options.out, exist_ok=True)
    results["seconds"] = time.perf_counter() - started
    charts, chart_note = make_charts(results, options.out, stem, options.charts)
    results["charts"] = charts
    if chart_note:
        results["charts_note"] = chart_note
    with open(os.path.join(options.out, stem + ".json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(options.out, stem + ".md"), "w") as f:
        f.write(markdown(results, charts, chart_note))
    print(f"results: {os.path.join(options.out, stem)}.json, .md" + (f" and {len(charts)} charts" if charts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
