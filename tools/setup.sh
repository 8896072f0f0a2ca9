#!/usr/bin/env bash
# Everything a fresh Debian bookworm machine (with the CUDA 13 toolkit in /usr/local/cuda) needs:
# installs the Debian packages, configures and builds into build/. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ python3 python3-dev python3-venv llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
          zlib1g-dev libzstd-dev libfmt-dev libcli11-dev nlohmann-json3-dev libxxhash-dev libstb-dev
          libgtest-dev python3-numpy)  # numpy: bench_patterns_test checks the FlexAttention peer's mask interpreter
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH

cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"

# The Python package (python/, docs/python.md) into build/python-env: a venv that also sees python3's
# own packages (an installed torch is used, none is installed here). Its build tools come from PyPI.
# Re-running rebuilds incrementally (build-python/).
py=build/python-env/bin/python
[ -x "$py" ] || python3 -m venv --system-site-packages build/python-env
"$py" -m pip install -q --disable-pip-version-check "scikit-build-core>=0.10" "nanobind>=2.0" numpy pytest
MOGA_COMPILE="$PWD/build/bin/moga-compile" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  "$py" -m pip install -q --disable-pip-version-check --no-build-isolation ./python
echo "setup: the Python package is in $py (or: pip install ./python into your own environment)"
