#!/usr/bin/env bash
# The one test command (`npm test`).
#
#   scripts/test.sh          build if needed, unit tests, integration tests, leak check
#   scripts/test.sh unit     build if needed, unit tests only
#
# Unit tests run in parallel; integration tests run as root on the real kernel with limited
# concurrency (BERTH_TEST_CONCURRENCY, default 2) because they start containers and measure
# cpu. The last line is always `tests: N passed, M failed`; the exit status is non-zero when
# anything failed (a build error and the leak check each count as one test).
set -uo pipefail

mode=${1:-all}
case "$mode" in
  all|unit) ;;
  *) echo "usage: scripts/test.sh [unit]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 2

passed=0
failed=0
results=$(mktemp -d "${TMPDIR:-/tmp}/berth-testrun-XXXXXX")
trap 'rm -rf "$results"' EXIT

note() { printf '\n== %s\n' "$*"; }

# --- build --------------------------------------------------------------------------------
# Native parts: `make` under node-gyp is incremental, so this is cheap when nothing changed.
note "build: native (node-gyp)"
if [ -f build/Makefile ]; then
  npm run --silent build:native >"$results/native.log" 2>&1
else
  npm run --silent install >"$results/native.log" 2>&1
fi
if [ $? -ne 0 ]; then
  cat "$results/native.log"
  echo "not ok - native build failed"
  failed=$((failed + 1))
fi

# TypeScript: tsc emits even with type errors, so the tests still run; the errors count as
# one failure.
note "build: TypeScript (tsc)"
if ! npx --no-install tsc -p tsconfig.json; then
  echo "not ok - tsc reported errors"
  failed=$((failed + 1))
fi

# The CLI's bundle and startup snapshot follow what tsc wrote (bin/berth passes over stale ones).
note "build: the berth CLI bundle and snapshot (scripts/build-cli.sh)"
if ! sh scripts/build-cli.sh; then
  echo "not ok - scripts/build-cli.sh failed"
  failed=$((failed + 1))
fi

# --- test files ---------------------------------------------------------------------------
# Only compiled files whose TypeScript source still exists: dist/ may hold stale output of
# tests that were renamed or removed.
test_files() {
  local dir=$1 f src
  [ -d "dist/$dir" ] || return 0
  find "dist/$dir" -name '*.test.js' -type f | sort | while read -r f; do
    src=${f#dist/}
    src=${src%.js}.ts
    [ -f "$src" ] && printf '%s\n' "$f"
  done
}

# run_suite NAME TAPFILE NODE-ARGS... -- FILES...
# Runs node's test runner with the spec reporter on stdout and TAP into a file, then adds
# the TAP totals to passed/failed.
run_suite() {
  local name=$1 tap=$2
  shift 2
  local args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  if [ $# -eq 0 ]; then
    note "$name: no test files"
    return 0
  fi
  note "$name: $# file(s)"
  node --test "${args[@]}" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
  local rc=$?
  local p f c s
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
  c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
  s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
  p=${p:-0} f=${f:-0} c=${c:-0} s=${s:-0}
  if [ -z "$(sed -n '/^# pass /p' "$tap")" ]; then
    echo "not ok - $name: the test runner printed no totals (exit $rc)"
    f=1
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$c" -eq 0 ]; then
    echo "not ok - $name: the test runner exited $rc without a failing test"
    f=1
  fi
  # Integration tests run as root here: a test that skips itself did not prove anything,
  # so a skip counts as a failure (a test that does not apply on this host should say so
  # and pass, or not exist).
  if [ "$name" = integration ] && [ "$(id -u)" -eq 0 ] && [ "$s" -gt 0 ]; then
    echo "not ok - integration: $s test(s) skipped while running as root (skips count as failures here)"
    grep -E '^ *(not )?ok .*# SKIP' "$tap" | sed 's/^ */  /'
    f=$((f + s))
  fi
  passed=$((passed + p))
  failed=$((failed + f + c))
}

mapfile -t unit_files < <(test_files test/unit)
run_suite unit "$results/unit.tap" --test-concurrency="$(nproc)" --test-timeout=120000 -- "${unit_files[@]}"

if [ "$mode" = all ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "warning: integration tests need root; running them anyway (they will fail)" >&2
  fi
  mapfile -t integration_files < <(test_files test/integration)
  run_suite integration "$results/integration.tap" \
    --test-concurrency="${BERTH_TEST_CONCURRENCY:-2}" --test-timeout=300000 -- "${integration_files[@]}"

  note "leak check"
  if node dist/test/harness/leak-check.js; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
fi

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
