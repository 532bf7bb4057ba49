#!/usr/bin/env bash
# Builds fastbp with AddressSanitizer + UndefinedBehaviorSanitizer into a fresh
# virtual environment and runs the test suite under them. Any ASan or UBSan
# report fails the run: both halt on the first one, and the exit codes 86 (ASan)
# and 87 (UBSan) name which. LeakSanitizer is off: its exit-time tracer crashed
# ("Tracer caught signal 11") on this machine's kernel for clean runs, so leaks
# are caught by tests/test_memory.py (resident memory flat over many calls).
# Usage: bash tools/sanitize.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/pip" install --quiet ".[test]" \
  --config-settings=cmake.define.FASTBP_SANITIZE=ON \
  --config-settings=cmake.build-type=RelWithDebInfo \
  --config-settings=build-dir="$work/build"

# The interpreter is not built with ASan, so the runtimes are preloaded into it.
preload="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
# One interpreter per test file: a failure names its file, and no state builds
# up across the whole suite inside the instrumented process. Output is not
# captured (-s): a report goes straight to this script's stderr, also when it
# ends the process. The property tests draw the same cases on every run
# (tests/conftest.py), so a run can be repeated.
failed=()
for test_file in "$repo"/tests/test_*.py; do
  # Resident-memory tests measure the allocator, which ASan replaces with its
  # own (freed blocks wait in a 256 MiB quarantine); they run in the plain pass.
  [ "$(basename "$test_file")" = test_memory.py ] && continue
  # test_isa.py reruns the op suites under every other ISA in fresh interpreters, which
  # would double the instrumented run; the plain pass runs it.
  [ "$(basename "$test_file")" = test_isa.py ] && continue
  # test_bench_jax.py checks the benchmark's JAX steps against its NumPy ones, no core
  # code; this venv has no JAX, where pytest would collect nothing and exit with 5.
  [ "$(basename "$test_file")" = test_bench_jax.py ] && continue
  file_status=0
  (
    cd "$work"  # import the installed package, not the source tree
    env LD_PRELOAD="$preload" PYTHONMALLOC=malloc PYTHONFAULTHANDLER=1 \
      ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:exitcode=86" \
      UBSAN_OPTIONS="halt_on_error=1:exitcode=87:print_stacktrace=1" \
      "$work/venv/bin/python" -u -m pytest -q -s -p no:cacheprovider "$test_file" "$@"
  ) || file_status=$?
  if [ "$file_status" -ne 0 ]; then
    failed+=("$(basename "$test_file") (exit $file_status)")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "sanitize: failed: ${failed[*]}; 86 = ASan report, 87 = UBSan report, 1 = a test failed" >&2
  exit 1
fi
echo "sanitize: every test file passed under ASan + UBSan"
