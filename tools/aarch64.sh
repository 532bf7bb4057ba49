#!/usr/bin/env bash
# Builds fastbp for aarch64 on an x86-64 Debian machine and runs tests under user-mode
# emulation. Debian's g++-aarch64-linux-gnu cross-compiles the core and the extension;
# an arm64 Debian root (debootstrap's first stage, its packages unpacked: Python 3.11 and
# its headers) gives the aarch64 interpreter, numpy's aarch64 wheel comes from PyPI, and
# qemu-user-static runs the tests once per kernel family the build has for aarch64
# (FASTBP_ISA), printing which ran under which.
#
# numpy's aarch64 matmul raises spurious floating-point warnings under QEMU (on finite
# inputs), which the suite's warnings-as-errors would turn into failures: they are ignored.
# Emulation is slow, so it runs a subset that calls every op of the op table and the
# layers (tests/aarch64_subset.txt names it and says what it leaves out);
# FASTBP_AARCH64_TESTS names another list (tests/aarch64_full.txt: the whole op and layer
# files). Arguments go to pytest (e.g. `-x`). Every ISA runs even if one fails; the
# script fails if any did. Needs root for apt-get and debootstrap on the first run; the
# root, the wheels and the build are kept in FASTBP_AARCH64_CACHE (default:
# ~/.cache/fastbp-aarch64).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
cache="${FASTBP_AARCH64_CACHE:-$HOME/.cache/fastbp-aarch64}"
root="$cache/root"      # the arm64 Debian tree
site="$cache/site"      # aarch64 numpy, pytest, hypothesis
hostenv="$cache/host"   # x86-64 venv with pybind11, cmake and ninja for the cross build
build="$cache/build"
mkdir -p "$cache"
start=$SECONDS

# 1. Debian tools: the cross compiler, the emulator, debootstrap.
missing=()
for pkg in g++-aarch64-linux-gnu qemu-user-static debootstrap; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -ne 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi

# 2. An arm64 root with Python: debootstrap's first stage downloads the packages; they
# are unpacked here instead of installed (no second stage, no chroot: QEMU finds the
# loader and libraries through -L / QEMU_LD_PREFIX).
t0=$SECONDS
if [ ! -x "$root/usr/bin/python3.11" ]; then
  rm -rf "$root.part"
  # The Debian mirror this machine's apt already uses (deb822 or one-line sources; either
  # file may be absent), else Debian's own.
  mirror="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    sed -n -e 's/^URIs: *\([^ ]*\).*/\1/p' -e 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' |
    grep -m1 '/debian/\?$' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  debootstrap --foreign --arch=arm64 --variant=minbase \
    --include=python3,libpython3.11-dev,libgomp1 bookworm "$root.part" "$mirror"
  for deb in "$root.part"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$root.part"; done
  mv "$root.part" "$root"
  echo "aarch64: arm64 root downloaded and unpacked in $((SECONDS - t0)) s"
fi
export QEMU_LD_PREFIX="$root"
py_arm=(qemu-aarch64-static "$root/usr/bin/python3.11")
"${py_arm[@]}" -c "import platform; assert platform.machine() == 'aarch64'"

# 3. aarch64 wheels of the test dependencies (binary only, for CPython 3.11).
t0=$SECONDS
if [ ! -d "$site/numpy" ]; then
  python3 -m pip install --quiet --target "$site" --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 numpy pytest hypothesis
  echo "aarch64: aarch64 wheels downloaded in $((SECONDS - t0)) s"
fi

# 4. The cross build: host tools in a venv, the target's Python headers from the root.
t0=$SECONDS
if [ ! -x "$hostenv/bin/ninja" ]; then
  python3 -m venv "$hostenv"
  "$hostenv/bin/pip" install --quiet pybind11 cmake ninja
fi
# Debian's pyconfig.h includes <aarch64-linux-gnu/python3.11/pyconfig.h>: that folder
# alone goes on the include path (not the root's whole /usr/include).
mkdir -p "$cache/include/aarch64-linux-gnu"
ln -sfn "$root/usr/include/aarch64-linux-gnu/python3.11" "$cache/include/aarch64-linux-gnu/python3.11"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
"$hostenv/bin/cmake" -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$hostenv/bin/ninja" \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-I$cache/include" -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
  -DPython_EXECUTABLE="$(command -v python3)" \
  -DPython_INCLUDE_DIR="$root/usr/include/python3.11" \
  -Dpybind11_DIR="$("$hostenv/bin/python" -m pybind11 --cmakedir)" \
  -DSKBUILD_PROJECT_VERSION="$version" >/dev/null
"$hostenv/bin/cmake" --build "$build"
pkg="$cache/pkg"
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r python/fastbp "$pkg/fastbp"
# pybind11 names the module after the host interpreter's suffix; the aarch64 one needs its own.
cp "$build"/_core.cpython-311-*.so "$pkg/fastbp/_core.cpython-311-aarch64-linux-gnu.so"
echo "aarch64: cross build (host tools included) took $((SECONDS - t0)) s; ready after $((SECONDS - start)) s"

# 5. The tests under emulation, once per ISA of the aarch64 build. A list's lines are test
# files or pytest node ids, relative to tests/.
list="${FASTBP_AARCH64_TESTS:-tests/aarch64_subset.txt}"
mapfile -t tests < <(sed -e 's/#.*//' -e '/^ *$/d' -e "s|^|$repo/tests/|" "$list")
isas="$(cd "$cache" && PYTHONPATH="$pkg:$site" "${py_arm[@]}" -c \
  "import fastbp; print(' '.join(fastbp.build_info()['isas']))")"
echo "aarch64: ISAs of this build under emulation: $isas"
failed=()
summary=()
for isa in $isas; do
  t0=$SECONDS
  status=passed
  (cd "$cache" && FASTBP_ISA="$isa" PYTHONPATH="$pkg:$site" "${py_arm[@]}" -m pytest -q \
    -c "$repo/pyproject.toml" --rootdir "$repo" -p no:cacheprovider \
    -k "not test_each_isa and not emulated and not isa_is_import_error" \
    -W "ignore:divide by zero encountered in matmul:RuntimeWarning" \
    -W "ignore:overflow encountered in matmul:RuntimeWarning" \
    -W "ignore:invalid value encountered in matmul:RuntimeWarning" "${tests[@]}" "$@") ||
    { status=FAILED; failed+=("$isa"); }
  summary+=("aarch64: FASTBP_ISA=$isa $status in $((SECONDS - t0)) s")
done
echo "aarch64: the tests of $list, under each ISA:"
printf '  %s\n' "${tests[@]#"$repo/tests/"}"
printf '%s\n' "${summary[@]}"
echo "aarch64: done in $((SECONDS - start)) s"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "aarch64: FAILED under ${failed[*]}" >&2
  exit 1
fi
