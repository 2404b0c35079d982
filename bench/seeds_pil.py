#!/usr/bin/python3
"""The seeds' approach, kept as a reference for the benchmarks: Python and
PIL, one process per strip.

Each image is opened with PIL and cut into as many horizontal strips as there
are processes; every strip is sent to its own process (multiprocessing),
blurred there with PIL's GaussianBlur, sent back and pasted in place; the
result is saved as JPEG. The strips are blurred independently, so every strip
boundary shows a seam: the flaw strata's halos remove.

    /usr/bin/python3 bench/seeds_pil.py OUTPUT_DIR IMAGE... [--processes 2] [--radius 3] [--quality 90]

Needs Debian's python3-pil (the system Python, /usr/bin/python3).
"""
import argparse
import multiprocessing
import os
import sys

from PIL import Image, ImageFilter


def blur_strip(job):
    mode, size, pixels, radius = job
    strip = Image.frombytes(mode, size, pixels)
    return strip.filter(ImageFilter.GaussianBlur(radius)).tobytes()


def blur_file(source, target, processes, radius, quality):
    picture = Image.open(source)
    picture.load()
    width, height = picture.size
    bounds = [(height * i // processes, height * (i + 1) // processes) for i in range(processes)]
    jobs = []
    for top, bottom in bounds:
        strip = picture.crop((0, top, width, bottom))
        jobs.append((strip.mode, strip.size, strip.tobytes(), radius))
    with multiprocessing.Pool(processes) as pool:  # one process per strip
        blurred = pool.map(blur_strip, jobs)
    result = Image.new(picture.mode, picture.size)
    for (top, bottom), pixels in zip(bounds, blurred):
        result.paste(Image.frombytes(picture.mode, (width, bottom - top), pixels), (0, top))
    result.save(target, quality=quality)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--radius", type=float, default=3)
    parser.add_argument("--quality", type=int, default=90)
    options = parser.parse_args()
    os.makedirs(options.output_dir, exist_ok=True)
    for source in options.images:
        target = os.path.join(options.output_dir, os.path.basename(source))
        blur_file(source, target, options.processes, options.radius, options.quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
