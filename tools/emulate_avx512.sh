#!/usr/bin/env bash
# Runs the AVX-512 kernel context on a CPU without AVX-512: builds fastbp with the CMake
# option FASTBP_EMULATE_AVX512 (its avx512 units compiled against SIMDe's portable
# intrinsics, from the simde-py package) into a fresh virtual environment, then runs every
# op suite under FASTBP_ISA=avx512 (tests/test_isa.py) and the runtime tests, which check
# that the emulated context is offered through FASTBP_ISA alone. On an AVX-512 CPU the
# plain test run already covers the native kernels; this still checks the emulated build.
# Usage: bash tools/emulate_avx512.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
# SIMDe's headers for the build; build isolation would hide the venv's copy from CMake,
# so their folder is passed in.
"$work/venv/bin/pip" install --quiet simde-py
simde="$("$work/venv/bin/python" -c 'import simde_py; print(simde_py.get_include())')"
"$work/venv/bin/pip" install --quiet ".[test]" \
  --config-settings=cmake.define.FASTBP_EMULATE_AVX512=ON \
  --config-settings=cmake.define.FASTBP_SIMDE_INCLUDE="$simde" \
  --config-settings=build-dir="$work/build"

cd "$work"  # import the installed package, not the source tree
"$work/venv/bin/python" -c "import fastbp, sys; info = fastbp.build_info(); print(info); \
sys.exit(0 if 'avx512' in info['emulated_isas'] + info['isas'] else 'no avx512 context')"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -c "$repo/pyproject.toml" \
  --rootdir "$repo" "$repo/tests/test_isa.py" "$repo/tests/test_runtime.py" \
  -k "avx512 or not test_every_op_under_isa" "$@"
