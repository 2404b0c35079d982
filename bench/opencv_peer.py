#!/usr/bin/python3
"""A peer for the benchmarks: the same filters with OpenCV from Python, as a
Python user would write them. One image: OpenCV's own threads (--threads);
several images: a multiprocessing pool over the files (--processes), each
process single-threaded.

    /usr/bin/python3 bench/opencv_peer.py OUTPUT_DIR IMAGE... (--gaussblur SIGMA | --median SIZE)
        [--processes 2] [--threads 2] [--quality 90]

Needs Debian's python3-opencv (the system Python, /usr/bin/python3).
"""
import argparse
import multiprocessing
import os
import sys

import cv2


def convert(job):
    source, target, gaussblur, median, quality = job
    picture = cv2.imread(source, cv2.IMREAD_UNCHANGED)
    if picture is None:
        raise RuntimeError(f"{source}: OpenCV cannot read it")
    if gaussblur is not None:
        picture = cv2.GaussianBlur(picture, (0, 0), gaussblur)
    else:
        picture = cv2.medianBlur(picture, median)
    if not cv2.imwrite(target, picture, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise RuntimeError(f"{target}: OpenCV cannot write it")


def single_threaded():
    cv2.setNumThreads(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("images", nargs="+")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--gaussblur", type=float, help="cv2.GaussianBlur with this sigma")
    what.add_argument("--median", type=int, help="cv2.medianBlur with this aperture")
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--quality", type=int, default=90)
    options = parser.parse_args()
    os.makedirs(options.output_dir, exist_ok=True)
    jobs = [(source, os.path.join(options.output_dir, os.path.basename(source)), options.gaussblur, options.median,
             options.quality) for source in options.images]
    if len(jobs) == 1:
        cv2.setNumThreads(options.threads)
        convert(jobs[0])
    else:
        with multiprocessing.Pool(options.processes, initializer=single_threaded) as pool:
            pool.map(convert, jobs, chunksize=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
