#!/usr/bin/python3
"""Everyday conversions against the tools people use for them, in one run
whose rounds alternate the tools; median of the rounds, with the range, and
the peak resident size of each command's largest process.

    /usr/bin/python3 bench/conversion_bench.py [--rounds 5] [--workers 2] [--out bench/results/conversions-DATE]

Workloads:
- thumbnails: 16 4096x4096 JPEG photographs to 256 px, JPEG Q85: `strata
  batch -f thumbnail=256` against `xargs -P2 -n8 vipsthumbnail` (the fastest
  one-liner) and one vipsthumbnail per file (`xargs -P2 -n1`);
- quality: those thumbnails (as PNG, so that encoding plays no part) against
  an exact area average of the full-size decode (bench/thumbnail_quality);
- a 20000x20000 JPEG to 512 px: `strata apply -f thumbnail=512` against
  vipsthumbnail;
- conversion of the 16 JPEGs to WebP Q80: `strata batch --format webp`
  against `xargs -P2 -n1 vips copy`.
Inputs are made once under --work: the 4096x4096 wallpapers of Debian's
gnome-backgrounds (installed if missing and root), as JPEG Q90, and bundled
photographs enlarged with grain (bench/driver.py) up to 16.
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from driver import PHOTOS, fresh, make_photo, run_workload, timed, vips, write_report  # noqa: E402

WALLPAPERS = "/usr/share/backgrounds/gnome"


def make_inputs(work, count):
    folder = os.path.join(work, f"photos-4096-{count}")
    os.makedirs(folder, exist_ok=True)
    if not glob.glob(os.path.join(WALLPAPERS, "*.webp")) and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "gnome-backgrounds"],
                       check=False, capture_output=True)
    sources = []
    for wallpaper in sorted(glob.glob(os.path.join(WALLPAPERS, "*.webp"))):
        header = subprocess.run(["vipsheader", "-f", "width", wallpaper], capture_output=True, text=True)
        if header.stdout.strip() == "4096":
            sources.append(wallpaper)
    paths = []
    for index in range(count):
        path = os.path.join(folder, f"photo-{index + 1:02}.jpg")
        if not os.path.exists(path):
            if index < len(sources):
                vips("copy", sources[index], path + "[Q=90]")
            else:
                extra = index - len(sources)
                source = os.path.join(PHOTOS, ["astronaut.jpg", "chelsea.jpg"][extra % 2])
                make_photo(source, path, 4096, index, mirrored=extra >= 2)
        paths.append(path)
    return folder, paths, len(sources)


def make_huge(work, source):
    path = os.path.join(work, "huge-20000.jpg")
    if not os.path.exists(path):
        vips("resize", source, path + "[Q=90]", str(20000 / 4096))
    return path


def ratio(results, slow, fast):
    return results[slow]["median_s"] / results[fast]["median_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, "build", "release", "src", "cli", "strata"))
    parser.add_argument("--quality", default=os.path.join(ROOT, "build", "release", "bench", "thumbnail_quality"))
    parser.add_argument("--work", default="/tmp/strata-bench")
    parser.add_argument("--out", default=os.path.join(HERE, "results", f"{datetime.date.today()}-vm-conversions"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    for program in (options.strata, options.quality):
        if not os.access(program, os.X_OK):
            sys.exit(f"conversion_bench: {program} is not built; run scripts/setup release")
    for tool in ("vips", "vipsthumbnail"):
        if shutil.which(tool) is None:
            sys.exit(f"conversion_bench: needs {tool} (Debian's libvips-tools)")

    def log(text):
        print(f"conversion_bench: {text}", file=sys.stderr, flush=True)

    folder, photos, wallpapers = make_inputs(options.work, 16)
    huge = make_huge(options.work, photos[0])
    log(f"inputs: {len(photos)} photographs ({wallpapers} wallpapers) in {folder}, and {huge}")
    out = os.path.join(options.work, "out")
    w = str(options.workers)
    strata = options.strata
    quoted = " ".join(f"'{p}'" for p in photos)
    results = {}

    results["thumbnails 16 x 4096^2 JPEG to 256 px, Q85"] = run_workload("thumbnails", {
        "strata batch": (lambda: timed([strata, "batch", folder, fresh(out), "-f", "thumbnail=256", "-q", "85",
                                        "-w", w, "--quiet"]), None),
        "xargs -P2 -n8 vipsthumbnail": (lambda: timed(
            f"printf '%s\\n' {quoted} | xargs -P{w} -n8 vipsthumbnail -s 256 -o '{fresh(out)}/%s.jpg[Q=85]'",
            shell=True), None),
        "xargs -P2 -n1 vipsthumbnail": (lambda: timed(
            f"printf '%s\\n' {quoted} | xargs -P{w} -n1 vipsthumbnail -s 256 -o '{fresh(out)}/%s.jpg[Q=85]'",
            shell=True), None),
    }, options.rounds, log)

    # Quality, once: the same thumbnails as PNG.
    ours, theirs = fresh(os.path.join(options.work, "q-strata")), fresh(os.path.join(options.work, "q-vips"))
    subprocess.run([strata, "batch", folder, ours, "-f", "thumbnail=256", "--format", "png", "--quiet"], check=True)
    subprocess.run(["vipsthumbnail", *photos, "-s", "256", "-o", f"{theirs}/%s.png"], check=True)
    quality_json = os.path.join(options.work, "quality.json")
    subprocess.run([options.quality, *photos, "--a", ours, "--b", theirs, "--json", quality_json], check=True)
    with open(quality_json) as f:
        quality = json.load(f)

    results["a 20000x20000 JPEG to 512 px"] = run_workload("huge", {
        "strata apply": (lambda: timed([strata, "apply", huge, os.path.join(fresh(out), "t.jpg"), "-f", "thumbnail=512",
                                        "-w", w]), None),
        "vipsthumbnail": (lambda: timed(["vipsthumbnail", huge, "-s", "512", "-o", os.path.join(fresh(out), "t.jpg")]),
                          None),
    }, options.rounds, log)

    results["16 x 4096^2 JPEG to WebP Q80"] = run_workload("webp", {
        "strata batch": (lambda: timed([strata, "batch", folder, fresh(out), "--format", "webp", "-q", "80", "-w", w,
                                        "--quiet"]), None),
        "xargs -P2 -n1 vips copy": (lambda: timed(
            f"cd '{fresh(out)}' && printf '%s\\n' {quoted} | xargs -P{w} -I{{}} sh -c "
            f"'vips copy \"$1\" \"$(basename \"$1\" .jpg).webp[Q=80]\"' _ {{}}", shell=True), None),
    }, max(1, options.rounds - 2), log)

    thumbs = results["thumbnails 16 x 4096^2 JPEG to 256 px, Q85"]
    huge_results = results["a 20000x20000 JPEG to 512 px"]
    webp = results["16 x 4096^2 JPEG to WebP Q80"]
    verdicts = {
        "thumbnails: speed-up over xargs -n8 vipsthumbnail (bar 1.1)": ratio(thumbs, "xargs -P2 -n8 vipsthumbnail", "strata batch"),
        "thumbnails: speed-up over one vipsthumbnail per file (bar 1.6)": ratio(thumbs, "xargs -P2 -n1 vipsthumbnail", "strata batch"),
        "thumbnails: largest strata process, MiB (bar 64)": thumbs["strata batch"]["peak_mib"],
        "thumbnails: worst PSNR strata - vipsthumbnail, dB (bar -0.5)": quality["worst_difference_db"],
        "20000^2: strata time / vipsthumbnail time (bar 1.2)": ratio(huge_results, "strata apply", "vipsthumbnail"),
        "20000^2: strata memory / vipsthumbnail memory (bar 2)":
            huge_results["strata apply"]["peak_mib"] / huge_results["vipsthumbnail"]["peak_mib"],
        "webp: speed-up over xargs -n1 vips copy (bar 1.1)": ratio(webp, "xargs -P2 -n1 vips copy", "strata batch"),
    }
    lines = [f"# Everyday conversions, {datetime.date.today()}", "",
             f"`/usr/bin/python3 bench/conversion_bench.py --rounds {options.rounds} --workers {options.workers}`; "
             f"{len(photos)} photographs 4096x4096 ({wallpapers} gnome-backgrounds wallpapers as JPEG Q90, the rest "
             "bundled photographs enlarged with grain); times are whole commands, median (min-max) of the rounds; "
             "memory is the peak resident size of the largest process.", ""]
    for name, tools in results.items():
        lines += [f"## {name}", "", "| tool | median s | range s | peak MiB |", "|---|---|---|---|"]
        for tool, r in tools.items():
            lines.append(f"| {tool} | {r['median_s']:.3f} | {r['min_s']:.3f}-{r['max_s']:.3f} | {r['peak_mib']:.0f} |")
        lines.append("")
    lines += ["## Thumbnail quality", "",
              "PSNR of each thumbnail (PNG) against OpenCV INTER_AREA on the full-size decode:", "",
              "| image | strata dB | vipsthumbnail dB |", "|---|---|---|"]
    lines += [f"| {f['image']} | {f['a_psnr_db']:.2f} | {f['b_psnr_db']:.2f} |" for f in quality["files"]]
    lines += ["", "## Against the bars", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in verdicts.items()]
    text = "\n".join(lines) + "\n"
    write_report(options.out, text, {"results": results, "quality": quality, "verdicts": verdicts})


if __name__ == "__main__":
    main()
