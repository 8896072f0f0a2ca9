#!/usr/bin/env bash
# Everything a fresh Debian bookworm machine (with the CUDA 13 toolkit in /usr/local/cuda) needs:
# installs the Debian packages, configures and builds into build/. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ python3 llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
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
