#!/usr/bin/env python3
"""strata apply and strata batch beside the tools people use today for the same
job, on the same photographs, in one run whose rounds alternate the tools.

    scripts/setup release && python3 bench/compare_cli.py [--rounds 5] [--workers 2] [--size 4096] [--json FILE]

Workload: gaussblur sigma 3 to JPEG quality 90. `vips gaussblur ... 3 --min-ampl
0.01` gives libvips the same 19-tap kernel OpenCV uses for sigma 3 (equal
work); plain `vips gaussblur ... 3` (11 taps) is shown too. The seeds'
approach (bench/seeds_pil.py: Python, PIL, one process per strip) runs only if
the system Python has PIL (Debian's python3-pil).

Inputs are made once under --work from the bundled photographs: enlarged to
SIZE x SIZE, given photographic grain, saved as JPEG Q90. Times are wall
seconds of the whole command (start-up included), median of the rounds with
the range; memory is the peak resident size of the largest process of the
command (ru_maxrss of the waited-for tree), in MiB.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, "testdata", "photos")
SOURCES = ["astronaut.jpg", "chelsea.jpg", "coffee-rgba.png", "camera.png"]
SYSTEM_PYTHON = "/usr/bin/python3"


def vips(*arguments):
    subprocess.run(["vips", *arguments], check=True, capture_output=True)


def make_photo(source, target, size, seed, mirrored):
    """A SIZE x SIZE RGB JPEG from a bundled photograph, with grain."""
    stem = target[:-4]
    vips("thumbnail", source, stem + "-a.v", str(size), "--height", str(size), "--size", "both", "--crop", "centre")
    vips("colourspace", stem + "-a.v", stem + "-b.v", "srgb")
    vips("extract_band", stem + "-b.v", stem + "-c.v", "0", "--n", "3")
    if mirrored:
        vips("flip", stem + "-c.v", stem + "-d.v", "horizontal")
    else:
        shutil.copy(stem + "-c.v", stem + "-d.v")
    bands = []
    for band in range(3):
        name = f"{stem}-n{band}.v"
        vips("gaussnoise", name, str(size), str(size), "--sigma", "5", "--mean", "0", "--seed", str(seed * 3 + band))
        bands.append(name)
    vips("bandjoin", " ".join(bands), stem + "-n.v")
    vips("add", stem + "-d.v", stem + "-n.v", stem + "-e.v")
    vips("cast", stem + "-e.v", stem + "-f.v", "uchar")
    vips("copy", stem + "-f.v", target + "[Q=90]")
    for leftover in [stem + suffix for suffix in ("-a.v", "-b.v", "-c.v", "-d.v", "-e.v", "-f.v", "-n.v")] + bands:
        os.remove(leftover)


def make_inputs(work, size, count):
    folder = os.path.join(work, f"photos-{size}")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(count):
        path = os.path.join(folder, f"photo-{index + 1}.jpg")
        if not os.path.exists(path):
            source = os.path.join(PHOTOS, SOURCES[index % len(SOURCES)])
            make_photo(source, path, size, index, mirrored=index >= len(SOURCES))
        paths.append(path)
    return folder, paths


def timed(command, shell=False):
    """Wall seconds and peak RSS (MB) of the largest process of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_mb": max(m for _, m in samples),
        "rounds": times,
    }


def run_workload(name, tools, rounds):
    """Every tool once per round, the order rotating from round to round."""
    samples = {tool: [] for tool in tools}
    names = list(tools)
    for round_index in range(rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for tool in order:
            samples[tool].append(tools[tool]())
        print(f"  {name}: round {round_index + 1}/{rounds} done", file=sys.stderr)
    return {tool: summary(values) for tool, values in samples.items()}


def print_table(title, results, reference, decoded_mb):
    print(f"\n{title}")
    print(f"| tool | median s | range s | vs {reference} | peak MiB | peak / decoded image |")
    print("|---|---|---|---|---|---|")
    base = results[reference]["median_s"]
    for tool, r in results.items():
        print(f"| {tool} | {r['median_s']:.3f} | {r['min_s']:.3f}-{r['max_s']:.3f} | "
              f"{r['median_s'] / base:.2f}x | {r['peak_mb']:.0f} | {r['peak_mb'] / decoded_mb:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, "build", "release", "src", "cli", "strata"))
    parser.add_argument("--work", default="/tmp/strata-bench", help="where inputs are made and outputs written")
    parser.add_argument("--size", type=int, default=4096, help="photographs are SIZE x SIZE")
    parser.add_argument("--files", type=int, default=8, help="photographs in the batch workload")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1024 x 1024, 4 files, 1 round")
    parser.add_argument("--json", help="write the results here")
    options = parser.parse_args()
    if options.quick:
        options.size, options.files, options.rounds = 1024, 4, 1
    if shutil.which("vips") is None:
        sys.exit("compare_cli: needs the vips command (Debian's libvips-tools)")
    if not os.access(options.strata, os.X_OK):
        sys.exit(f"compare_cli: {options.strata} is not built; run scripts/setup release")

    folder, photos = make_inputs(options.work, options.size, options.files)
    decoded_mb = options.size * options.size * 3 / 2**20
    out = os.path.join(options.work, "out")
    workers = str(options.workers)
    strata = options.strata
    has_pil = subprocess.run([SYSTEM_PYTHON, "-c", "import PIL"], capture_output=True).returncode == 0 \
        if os.path.exists(SYSTEM_PYTHON) else False

    single = photos[0]
    apply_tools = {
        "strata apply": lambda: timed([strata, "apply", single, os.path.join(fresh(out), "a.jpg"), "-f", "gaussblur=3",
                                       "-q", "90", "-w", workers]),
        "vips gaussblur --min-ampl 0.01": lambda: timed(["vips", "gaussblur", single,
                                                         os.path.join(fresh(out), "a.jpg") + "[Q=90]", "3",
                                                         "--min-ampl", "0.01"]),
        "vips gaussblur (11 taps)": lambda: timed(["vips", "gaussblur", single,
                                                   os.path.join(fresh(out), "a.jpg") + "[Q=90]", "3"]),
    }
    xargs = ("ls {folder}/*.jpg | xargs -P{workers} -I{{}} sh -c "
             "'vips gaussblur {{}} {out}/$(basename {{}})[Q=90] 3{extra}'")
    batch_tools = {
        "strata batch": lambda: timed([strata, "batch", folder, fresh(out), "-f", "gaussblur=3", "-q", "90",
                                       "-w", workers, "--quiet"]),
        f"xargs -P{workers} vips --min-ampl 0.01": lambda: timed(
            xargs.format(folder=folder, workers=workers, out=fresh(out), extra=" --min-ampl 0.01"), shell=True),
        f"xargs -P{workers} vips (11 taps)": lambda: timed(
            xargs.format(folder=folder, workers=workers, out=fresh(out), extra=""), shell=True),
    }
    if has_pil:
        batch_tools["seeds: Python + PIL, a process per strip"] = lambda: timed(
            [SYSTEM_PYTHON, os.path.join(ROOT, "bench", "seeds_pil.py"), fresh(out), *photos,
             "--processes", workers, "--radius", "3", "--quality", "90"])
    else:
        print("compare_cli: no PIL for /usr/bin/python3 (apt-get install python3-pil): seeds' approach skipped",
              file=sys.stderr)

    results = {
        "machine": {"host": platform.node(), "cpus": os.cpu_count(), "system": platform.platform()},
        "settings": {"size": options.size, "files": options.files, "rounds": options.rounds,
                     "workers": options.workers, "decoded_image_mb": decoded_mb},
        "apply": run_workload("apply", apply_tools, options.rounds),
        "batch": run_workload("batch", batch_tools, options.rounds),
    }
    mp = options.size * options.size / 1e6
    print(f"{options.size}x{options.size} JPEG photographs ({mp:.1f} MP, {decoded_mb:.0f} MiB decoded), "
          f"gaussblur sigma 3, JPEG Q90, {options.workers} workers, {options.rounds} rounds")
    print_table("One image", results["apply"], "strata apply", decoded_mb)
    print_table(f"{options.files} images", results["batch"], "strata batch", decoded_mb)
    if options.json:
        with open(options.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
