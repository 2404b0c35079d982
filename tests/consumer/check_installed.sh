#!/usr/bin/env bash
# Installs strata into a temporary prefix, then builds the consumer program
# with nothing but `pkg-config --cflags --libs strata` and runs it.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

meson setup "$work/build" "$STRATA_SOURCE" --prefix="$prefix" --libdir=lib \
  -Dcli=false -Dtests=false -Dbench=false >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
meson install -C "$work/build" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
echo "pkg-config --cflags --libs strata: $(pkg-config --cflags --libs strata)"
c++ -std=c++20 -Wall -Wextra -Werror "$(dirname "$0")/project/consumer.cpp" -o "$work/consumer" \
  $(pkg-config --cflags --libs strata)

output=$(LD_LIBRARY_PATH=$prefix/lib "$work/consumer" "$STRATA_TESTDATA/photos/chelsea.jpg")
echo "$output"
[[ $output == "strata $(pkg-config --modversion strata): 451x300, 3 bands; filtered 451x300" ]]
