#!/usr/bin/env bash
# Runs a program under valgrind's memcheck: no memory error, no definite leak.
# Where valgrind itself cannot run the program on this processor (an
# instruction it does not emulate, in a system library), the test is
# reported as skipped (exit 77), never as passed.
#
#   tests/memcheck.sh VALGRIND PROGRAM [ARGS...]
set -uo pipefail
valgrind=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$valgrind" -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  "$@" 2>"$log"
status=$?
cat "$log" >&2
if ((status != 0)) && grep -q 'Illegal opcode' "$log"; then
  echo "SKIPPED: valgrind does not emulate an instruction this processor runs (see above)" >&2
  exit 77
fi
exit $status
