#!/usr/bin/env bash
# Builds tests/consumer/project with strata as its subproject and runs it.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$(dirname "$0")/project" "$work/project"
mkdir "$work/project/subprojects"
ln -s "$STRATA_SOURCE" "$work/project/subprojects/strata"

meson setup "$work/build" "$work/project" --force-fallback-for=strata >"$work/setup.log" 2>&1 ||
  { cat "$work/setup.log"; exit 1; }
meson compile -C "$work/build" >"$work/compile.log" 2>&1 || { cat "$work/compile.log"; exit 1; }

output=$("$work/build/consumer" "$STRATA_TESTDATA/photos/chelsea.jpg")
echo "$output"
[[ $output == "strata "*": 451x300, 3 bands; filtered 451x300" ]]
