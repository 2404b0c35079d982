#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/ (run from
anywhere; needs the strata program for the filters' examples and the vips
command for the images). The corpora are committed; run this again after
adding a filter or changing the wire format.

    tests/fuzz/make_seeds.py [--strata build/test/src/cli/strata]
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def fresh(name):
    folder = os.path.join(CORPUS, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def write(folder, name, data):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def chain_seeds(strata):
    folder = fresh("chain")
    listing = subprocess.run([strata, "filters"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in listing.splitlines() if line.strip()]
    examples = []
    for name in names:
        text = subprocess.run([strata, "filters", name], capture_output=True, text=True, check=True).stdout
        found = re.search(r"-f '([^']+)'", text)
        examples.append(found.group(1) if found else name)
    for index, example in enumerate(examples):
        write(folder, f"example-{index:02d}", example)
    write(folder, "long-chain", ",".join(examples[:6]))
    # A libFuzzer dictionary: the filters' and parameters' names, the separators.
    words = set(names) | {w for example in examples for w in re.findall(r"([a-z_]+)=", example)}
    entries = sorted(f'"{w}"' for w in words) + ['"="', '":"', '","', '"-"', '"."', '"e"', '"inf"', '"nan"']
    with open(os.path.join(HERE, "chain.dict"), "w") as f:
        f.write("# Written by make_seeds.py: the filters' and parameters' names.\n" + "\n".join(entries) + "\n")
    write(folder, "positional", "gaussblur=3,median=5,rotate=90")
    write(folder, "unknown", "blurr=sigma=3")
    write(folder, "out-of-range", "gaussblur=sigma=500")
    write(folder, "empty-step", "invert,,grayscale")


def integer_seeds():
    folder = fresh("integers")
    write(folder, "plain", "3 1 2\n-7 0 42\n")
    write(folder, "limits", "9223372036854775807 -9223372036854775808\n")
    write(folder, "overflow", "9223372036854775808\n")
    write(folder, "signs", "+5 -0 007\t\r\n")
    write(folder, "bad-token", "1 2 x3 4\n")


HEADER = struct.Struct("<IBBHIIQQQ")  # magic, kind, flags, name length, fds, reserved, id, tag, payload length


def frame(kind, name=b"", payload=b"", id=1, tag=0, flags=0, fds=0):
    return HEADER.pack(0x4D525453, kind, flags, len(name), fds, 0, id, tag, len(payload)) + name + payload


def text(value):
    return struct.pack("<Q", len(value)) + value


def message_seeds():
    folder = fresh("message")
    plain = bytes([0, 0])  # no descriptors
    write(folder, "hello", plain + frame(1, id=1234))
    write(folder, "result-int", plain + frame(5, payload=struct.pack("<q", 42), tag=7))
    write(folder, "result-vector", plain + frame(5, payload=struct.pack("<Q3q", 3, 1, 2, 3)))
    write(folder, "failure", plain + frame(6, payload=text(b"std::runtime_error") + text(b"boom")))
    write(folder, "two-messages", plain + frame(5, payload=struct.pack("<q", 1)) + frame(5, payload=b"", id=2))
    write(folder, "run-with-name", plain + frame(2, name=b"square", payload=struct.pack("<q", 9)))
    write(folder, "shared-buffer", bytes([1 | 4, 4]) + frame(5, payload=struct.pack("<I", 0), fds=1))
    write(folder, "out-of-line", bytes([1 | 4, 40]) + frame(5, flags=1, fds=1, payload=b""))
    write(folder, "unsealed-out-of-line", bytes([1, 40]) + frame(5, flags=1, fds=1))
    write(folder, "truncated", plain + frame(5, payload=struct.pack("<q", 1))[:30])
    write(folder, "bools", plain + frame(5, payload=struct.pack("<Q", 3) + bytes([0, 1, 1])))


def image_seeds():
    folder = fresh("image")
    source = os.path.join(ROOT, "testdata", "photos", "chelsea.jpg")
    with tempfile.TemporaryDirectory() as work:
        small = os.path.join(work, "small.v")
        subprocess.run(["vips", "thumbnail", source, small, "24"], check=True)
        for suffix in ("jpg", "png", "webp", "tif", "gif", "pnm"):
            subprocess.run(["vips", "copy", small, os.path.join(folder, f"small.{suffix}")], check=True)
        grey = os.path.join(folder, "grey16.png")
        subprocess.run(["vips", "cast", small, os.path.join(work, "wide.v"), "ushort"], check=True)
        subprocess.run(["vips", "extract_band", os.path.join(work, "wide.v"), grey, "0"], check=True)
    for name in ("truncated.jpg", "not-an-image.png", "bomb-10gpixels.png", "bomb-16k-rgb16.png"):
        shutil.copy(os.path.join(ROOT, "testdata", "broken", name), folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, "build", "test", "src", "cli", "strata"))
    options = parser.parse_args()
    chain_seeds(options.strata)
    integer_seeds()
    message_seeds()
    image_seeds()


if __name__ == "__main__":
    main()
