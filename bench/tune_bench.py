#!/usr/bin/env python3
"""Tuned vs default, per pattern: the shipped patterns and the suite (bench/patterns), on the kernel
registry's space (issue #12, item 6).

For each kernel of each pattern, at one shape (shipped: 32768 / 21x30x52; the suite: each file's
`bench` shape), `moga tune --dry-run` on an empty database gives the space the tuner searches (every
registry row that runs on the device: sm80.mma with the manifest's tunable lists, the sm90.ws* rows
with their tile spaces) and the runtime's untuned choice (the heuristic default); `moga tune` then
measures a subset of that space (--space rows, the default: the default config, every registry row at
its default tiles, sm90.ws at every tile configuration, sm80.mma at 128/64/4/2 (the compiler's default),
128/128/8/2 and 64/64/4/2;
--space full: every kept config), and `moga tune --show` reads the results back. Per kernel: default
ms, best ms, the best config id and its registry row, default/best; per pattern: the same over the
sum of its kernels (they run one after another). A refused pattern (the GPU runtime does not run it)
is a row with its reason. Writes JSON (device, date, rows) to --json.

  python3 bench/tune_bench.py --moga build/bin/moga --json out.json [--patterns a,b] [--space rows|full]
                              [--budget-s 540] [--runs 10]

The database lives under $MOGA_CACHE_DIR: a second call with the same folder measures only what the
first left (past --budget-s, kernels are "skipped: budget").
"""
import argparse, datetime, glob, json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ["causal", "frame_local", "full", "moga", "moga_dynamic", "natten2d", "radial", "sliding_window", "stga"]
# config id tag -> registry row (runtime/attention/registry.h; Config::id in runtime/tune/space.h)
ROWS = {"": "sm80.mma", "wg": "sm90.ws", "wgi": "sm90.ws.items", "wgp": "sm90.ws.persistent",
        "wgs": "sm90.ws.static", "wgq": "sm90.ws.sq", "wgt": "sm90.tma", "wgtp": "sm90.tma.persistent",
        "wgts": "sm90.tma.static", "wgtc": "sm90.tma.sorted"}
ID = r"(?:[a-z]+_)?bm\d+_bn\d+_w\d+_s\d+"
HEAD = re.compile(r"^(\S+)\.(\S+)\s+B=\d+ N=(\d+).* -> bucket")
KEPT = re.compile(rf"^\s+({ID})\s+smem\s+\d+ B\s")
CHOICE = re.compile(rf"runtime choice(?: now)?: ({ID}) \((\w+)")
RESULT = re.compile(rf"^\s+(\*?)\s*({ID})\s+([0-9.]+|-)\s")


def row_of(cid):
    tag = cid.split("bm")[0].rstrip("_")
    return ROWS.get(tag, "?")


def run(cmd, timeout=600):
    print("+", " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired:
        out, rc = "", 124
    print(out, flush=True)
    return rc, out


def kernels_of(dry_run_text):
    """kernel -> {"kept": [ids], "default": id} from `moga tune --dry-run` (empty database)."""
    out, cur = {}, None
    for line in dry_run_text.splitlines():
        h = HEAD.match(line)
        if h:
            cur = out.setdefault(h.group(2), {"pattern": h.group(1), "N": int(h.group(3)), "kept": []})
            continue
        if cur is None:
            continue
        k = KEPT.match(line)
        if k:
            cur["kept"].append(k.group(1))
        c = CHOICE.search(line)
        if c:
            cur["default"] = c.group(1)
    return out


def subset(kept, default, space):
    if space == "full":
        return list(kept)
    # sm80.mma: the compiler's default at D = 128 and the v7 harness's best tiles (dense, grouped/masked)
    want = {default, "bm128_bn64_w4_s2", "bm128_bn128_w8_s2", "bm64_bn64_w4_s2"}
    for cid in kept:
        tag = cid.split("bm")[0].rstrip("_")
        if tag == "wg" or (tag and cid.endswith("bm128_bn128_w8_s3")):
            want.add(cid)  # sm90.ws at every tile configuration; the other rows at their default tiles
    return [c for c in kept if c in want]


def results_of(show_text):
    ms = {}
    for line in show_text.splitlines():
        r = RESULT.match(line)
        if r and r.group(3) != "-":
            ms[r.group(2)] = float(r.group(3))
    return ms


def targets(args):
    out = []
    for name in SHIPPED:
        out.append({"pattern": name, "source": "shipped", "arg": name, "shape": None})
    for path in sorted(glob.glob(os.path.join(ROOT, "bench", "patterns", "*.moga"))):
        shape = None
        for line in open(path):
            if line.startswith("# suite:"):
                shape = dict(w.partition("=")[::2] for w in line[8:].split()).get("bench")
        out.append({"pattern": os.path.basename(path)[:-5], "source": "suite", "arg": path, "shape": shape})
    if args.patterns:
        keep = set(args.patterns.split(","))
        out = [t for t in out if t["pattern"] in keep]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moga", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--patterns", default="")
    ap.add_argument("--space", choices=["rows", "full"], default="rows")
    ap.add_argument("--budget-s", type=float, default=540)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    t0 = time.time()
    empty_db = tempfile.mkdtemp(prefix="moga-tune-empty-")
    rows, kernel_rows, failures = [], [], 0
    for t in targets(a):
        shape = ["--shape", t["shape"]] if t["shape"] else []
        prow = {"pattern": t["pattern"], "source": t["source"], "shape": t["shape"] or "default", "kernels": []}
        rows.append(prow)
        rc, dry = run([a.moga, "tune", t["arg"], *shape, "--dry-run", "--db", empty_db])
        if rc != 0:
            prow["status"] = f"dry-run failed (exit {rc})"
            failures += 1
            continue
        for kname, k in kernels_of(dry).items():
            krow = {"pattern": t["pattern"], "kernel": kname, "N": k["N"], "default": k.get("default")}
            prow["kernels"].append(krow)
            if time.time() - t0 > a.budget_s:
                krow["status"] = "skipped: budget"
                continue
            configs = subset(k["kept"], krow["default"], a.space)
            rc, out = run([a.moga, "tune", t["arg"], *shape, "--kernel", kname, "--configs", ",".join(configs),
                           "--runs", str(a.runs)])
            m = re.search(r"skipped: (.*)", out)
            if m:
                krow["status"] = "refused: " + m.group(1)[:200]
                continue
            if rc != 0:
                krow["status"] = f"tune failed (exit {rc})"
                failures += 1
                continue
            _, show = run([a.moga, "tune", t["arg"], *shape, "--kernel", kname, "--show"])
            ms = results_of(show)
            krow["configs"] = configs
            krow["ms"] = ms
            if krow["default"] not in ms or not ms:
                krow["status"] = "default not measured (failed: see the log)"
                continue
            best = min(ms, key=ms.get)
            krow.update(status="ok", default_ms=ms[krow["default"]], best=best, best_row=row_of(best),
                        best_ms=ms[best], ratio=ms[krow["default"]] / ms[best])
            kernel_rows.append(krow)
        ok = [k for k in prow["kernels"] if k.get("status") == "ok"]
        if ok and len(ok) == len(prow["kernels"]):
            d, b = sum(k["default_ms"] for k in ok), sum(k["best_ms"] for k in ok)
            prow.update(status="ok", default_ms=d, tuned_ms=b, ratio=d / b)
        else:
            prow.setdefault("status", next((k["status"] for k in prow["kernels"] if k.get("status") != "ok"), "no kernels"))
    dev = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                         text=True).stdout.strip() if shutil.which("nvidia-smi") else ""
    json.dump({"device": dev, "date": datetime.date.today().isoformat(), "space": a.space, "rows": rows},
              open(a.json, "w"), indent=1)
    print(f"\n{'pattern.kernel':<36} {'default':>22} {'ms':>8} {'tuned':>22} {'row':>18} {'ms':>8} {'ratio':>6}")
    for p in rows:
        for k in p["kernels"]:
            name = f"{p['pattern']}.{k['kernel']}"
            if k.get("status") == "ok":
                print(f"{name:<36} {k['default']:>22} {k['default_ms']:>8.3f} {k['best']:>22} {k['best_row']:>18} "
                      f"{k['best_ms']:>8.3f} {k['ratio']:>5.2f}x")
            else:
                print(f"{name:<36} {k.get('status', '?')}")
    print(f"\n{'pattern':<24} {'shape':>10} {'default ms':>11} {'tuned ms':>9} {'ratio':>6}")
    for p in rows:
        if p.get("status") == "ok":
            print(f"{p['pattern']:<24} {p['shape']:>10} {p['default_ms']:>11.3f} {p['tuned_ms']:>9.3f} {p['ratio']:>5.2f}x")
        else:
            print(f"{p['pattern']:<24} {p['shape']:>10} {p.get('status')}")
    print(f"{sum(p.get('status') == 'ok' for p in rows)}/{len(rows)} patterns tuned; tune failures: {failures}")
    return 1 if failures or not kernel_rows else 0


if __name__ == "__main__":
    sys.exit(main())
