#!/usr/bin/env bash
# runtime/parallel/sp_check.sh: the 2-GPU checks of sequence parallelism (docs/distributed.md, "Not run
# yet"), for a machine with 2+ GPUs (nvidia-h200-x2). Builds nothing: runs a carried build's bin/moga.
#
#   bash runtime/parallel/sp_check.sh [--build DIR] [--out DIR] [--only unit|equivalence|bench] [--steps S]
#
# 1. environment: GPUs, how they are linked (nvidia-smi topo -m), the NCCL library.
# 2. unit: moga_parallel_gpu_tests and moga_gpu_model_tests (one GPU) when carried.
# 3. equivalence: the same run on 1 GPU and on 2 GPUs (tiny full / tiny moga with 2 shots / wan-1.3b
#    full at 2,340 tokens), final latents compared: relative L2 <= 1e-2 (bf16; 1 vs 2 GPUs differ only
#    by the GEMMs' row counts, which may pick other cuBLASLt algorithms), and the routing counts of
#    the last forward printed side by side.
# 4. bench: wan-1.3b at 35 x 80 x 108 latent (75,600 tokens, the shape of tools/gpu-check's bench_dit
#    row), --attention full and moga, random weights, S steps (default 4), median seconds per step over
#    steps 2..S on 1 and on 2 GPUs; target speed-up >= 1.8x.
# Exits non-zero when a check fails. NVLink multicast stays off (NCCL_NVLS_ENABLE=0, also set by moga
# itself for every rank).
set -u -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=build-sp
OUT_DIR=${OUT:-/tmp/moga-sp-check}
ONLY=""
STEPS=4
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    *) echo "sp_check: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
MOGA=$BUILD/bin/moga
mkdir -p "$OUT_DIR"
export NCCL_NVLS_ENABLE=0
export MOGA_CACHE_DIR=${MOGA_CACHE_DIR:-$OUT_DIR/cache}
FAIL=0

echo "== environment"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
nvidia-smi topo -m || true
if ldd "$MOGA" | grep -q 'libnvrtc.so.13 => not found'; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/targets/x86_64-linux/lib; do
    [[ -e $d/libnvrtc.so.13 ]] && { export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; break; }
  done
fi
if [[ -z ${MOGA_NCCL_LIBRARY:-} ]] && ! ldconfig -p | grep -q 'libnccl.so.2 '; then
  # the pip wheel (nvidia-nccl-cu13, PyTorch's dependency)
  lib=$(python3 -c "import nvidia.nccl as m, os; print(os.path.join(list(m.__path__)[0], 'lib', 'libnccl.so.2'))" 2>/dev/null)
  [[ -n $lib && -e $lib ]] && export MOGA_NCCL_LIBRARY=$lib
fi
echo "MOGA_NCCL_LIBRARY=${MOGA_NCCL_LIBRARY:-<loader path>}"
"$MOGA" --version || { echo "sp_check: $MOGA does not run"; exit 1; }

# rel_l2 A B: relative L2 distance of two latent.safetensors (key 'latent')
rel_l2() {
  python3 - "$1" "$2" <<'EOF'
import sys, numpy as np
from safetensors.numpy import load_file
a = load_file(sys.argv[1])["latent"].astype(np.float64)
b = load_file(sys.argv[2])["latent"].astype(np.float64)
print(f"{np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30):.3e}")
EOF
}

# per_step LOG: median wall seconds of steps 2.. from moga run's timing table (as gpu-check's bench_dit)
per_step() {
  awk '/^  step +wall s/ {t = 1; next} t && $1 ~ /^[0-9]+$/ && $1 > 1 {print $2}' "$1" | sort -g |
    awk '{a[NR] = $1} END {if (NR) printf "%.4f", a[int((NR + 1) / 2)]; else print "nan"}'
}

equivalence() {
  local name=$1; shift
  local d=$OUT_DIR/eq_$name
  rm -rf "$d"; mkdir -p "$d"
  "$MOGA" run --no-progress --backend gpu --gpus 1 "$@" --out "$d/g1" >"$d/g1.log" 2>&1 || { echo "$name: 1 GPU failed"; tail -5 "$d/g1.log"; FAIL=1; return; }
  "$MOGA" run --no-progress --backend gpu --gpus 2 "$@" --out "$d/g2" >"$d/g2.log" 2>&1 || { echo "$name: 2 GPUs failed"; tail -20 "$d/g2.log"; FAIL=1; return; }
  local e
  e=$(rel_l2 "$d/g1/latent.safetensors" "$d/g2/latent.safetensors")
  local ok
  ok=$(python3 -c "print(int($e <= 1e-2))")
  printf '%-28s 1 vs 2 GPUs: relative L2 %s %s\n' "$name" "$e" "$([[ $ok = 1 ]] && echo ok || echo FAIL)"
  [[ $ok = 1 ]] || FAIL=1
  if grep -q "routing of the last forward" "$d/g1.log"; then
    paste <(sed -n '/routing of the last forward/,$p' "$d/g1.log") <(sed -n '/routing of the last forward/,$p' "$d/g2.log") | head -8
  fi
}

if [[ -z $ONLY || $ONLY = unit ]]; then
  echo "== one-GPU unit tests: the exchange copies, route() + given routing, a 1-rank NCCL exchange; the GPU DiT"
  for t in moga_parallel_gpu_tests moga_gpu_model_tests; do
    if [[ -x $BUILD/bin/$t ]]; then
      "$BUILD/bin/$t" >"$OUT_DIR/$t.log" 2>&1 && echo "$t: ok ($(grep -c '^\[       OK' "$OUT_DIR/$t.log") passed, $(grep -c '^\[  SKIPPED \]' "$OUT_DIR/$t.log") skipped)" \
        || { echo "$t: FAILED"; grep -E '^\[  FAILED|Failure|error' "$OUT_DIR/$t.log" | head -20; FAIL=1; }
    else
      echo "$t: not carried ($BUILD/bin/$t)"
    fi
  done
fi

if [[ -z $ONLY || $ONLY = equivalence ]]; then
  echo "== equivalence (1 GPU vs 2 GPUs)"
  equivalence tiny_full --config tiny --attention full --steps 2
  equivalence tiny_full_odd --config tiny --attention full --steps 2 --frames 3 --height 6 --width 10  # 45 tokens: 23 + 22
  equivalence tiny_moga_shots --config tiny --attention moga --steps 2 --frames 6 --height 8 --width 8 --shots 0,3
  equivalence wan13b_full --config wan-1.3b --attention full --steps 1 --frames 3 --height 60 --width 52
  equivalence wan13b_moga --config wan-1.3b --attention moga --steps 1 --frames 3 --height 60 --width 52
fi

if [[ -z $ONLY || $ONLY = bench ]]; then
  echo "== benchmark: wan-1.3b, 35 x 80 x 108 latent (75,600 tokens), $STEPS steps"
  for att in full moga; do
    for g in 1 2; do
      "$MOGA" run --no-progress --backend gpu --config wan-1.3b --attention "$att" --frames 35 --height 80 --width 108 \
        --steps "$STEPS" --gpus $g >"$OUT_DIR/bench_${att}_g$g.log" 2>&1 || { echo "bench $att $g GPU(s) failed"; tail -20 "$OUT_DIR/bench_${att}_g$g.log"; FAIL=1; }
    done
    t1=$(per_step "$OUT_DIR/bench_${att}_g1.log"); t2=$(per_step "$OUT_DIR/bench_${att}_g2.log")
    s=$(python3 -c "print(f'{$t1 / $t2:.2f}' if $t2 > 0 else 'nan')" 2>/dev/null || echo nan)
    printf '%-5s 1 GPU %s s/step, 2 GPUs %s s/step: speed-up %sx (target >= 1.8)\n' "$att" "$t1" "$t2" "$s"
    grep -E "^  (attention|gemm|other|  cross|  comm) " "$OUT_DIR/bench_${att}_g2.log" || true
  done
fi
exit $FAIL
