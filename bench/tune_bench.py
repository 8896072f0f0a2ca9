#!/usr/bin/env python3
"""Tuned vs default tiles for every shipped pattern at two shapes (issue: autotuning).

Runs `moga tune` on a small config subset that always includes the manifest's default tiles, then
reads the database back (`moga tune --show`) and prints, per kernel and shape, the default's time,
the best time and their ratio. Writes JSON (device, date, rows) to the path given with --json.
Run on a GPU machine: python3 bench/tune_bench.py --moga build/bin/moga --json out.json
"""
import argparse, datetime, json, re, subprocess, sys

SHAPES = {"seq": ["8192", "32768"], "video": ["9x30x52", "21x30x52"]}
DEFAULT = "bm128_bn64_w4_s2"  # the compiler's default tiles at head dim 128 (attn-assign-tiles)
CONFIGS = [DEFAULT, "bm64_bn64_w4_s2", "bm128_bn128_w8_s2", "bm128_bn64_w8_s2"]
ROW = re.compile(r"^\s+(\*?)\s*(bm\d+_bn\d+_w\d+_s\d+)\s+([0-9.]+)\s")
HEAD = re.compile(r"^(\S+)\.(\S+)\s+B=\d+ N=(\d+)")


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    print(p.stdout + p.stderr, flush=True)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moga", required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    rows, failures = [], 0
    for layout, shapes in SHAPES.items():
        for shape in shapes:
            t = run([a.moga, "tune", "all", "--shape", shape, "--configs", ",".join(CONFIGS), "--runs", "10"])
            failures += t.returncode != 0
            s = run([a.moga, "tune", "all", "--shape", shape, "--show"])
            cur = None
            for line in s.stdout.splitlines():
                h = HEAD.match(line)
                if h:
                    cur = {"pattern": h.group(1), "kernel": h.group(2), "shape": shape, "N": int(h.group(3)), "ms": {}}
                    rows.append(cur)
                    continue
                r = ROW.match(line)
                if r and cur is not None:
                    cur["ms"][r.group(2)] = float(r.group(3))
    table = []
    for r in rows:
        if DEFAULT not in r["ms"] or not r["ms"]:
            continue
        best = min(r["ms"], key=r["ms"].get)
        r.update(default_ms=r["ms"][DEFAULT], best=best, best_ms=r["ms"][best],
                 speedup=r["ms"][DEFAULT] / r["ms"][best])
        table.append(r)
    dev = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    json.dump({"device": dev, "date": datetime.date.today().isoformat(), "default": DEFAULT,
               "configs": CONFIGS, "rows": table}, open(a.json, "w"), indent=1)
    print(f"\n{'kernel':<26} {'shape':>9} {'default ms':>11} {'best':>18} {'best ms':>9} {'speedup':>8}")
    for r in table:
        print(f"{r['pattern'] + '.' + r['kernel']:<26} {r['shape']:>9} {r['default_ms']:>11.4f} "
              f"{r['best']:>18} {r['best_ms']:>9.4f} {r['speedup']:>7.2f}x")
    kernels = {(r["pattern"], r["kernel"]) for r in table}
    print(f"{len(table)} (kernel, shape) rows, {len(kernels)} kernels; tune exit codes non-zero: {failures}")
    return 1 if failures or not table else 0


if __name__ == "__main__":
    sys.exit(main())
