#!/usr/bin/env python3
"""The pattern benchmark suite (issue #12, "How it is checked"): every bench/patterns/*.moga through
`moga check` (GPU vs the CPU reference at the file's small odd `check` shape) and `moga bench` (its
`bench` shape, ~32k tokens, H = 12, D = 128, with the FlexAttention and cuDNN peers), then one table.

  bench/run_pattern_suite.sh [--moga build/bin/moga] [--out DIR] [--budget-s 540] [--patterns a,b]
                             [--iters 20] [--no-peers] [--resume] [--strict-targets] [--jobs 8]
                             [--variant ROW]

Each file's `# suite:` line gives its shapes (bench/patterns/README.md). Exit codes of moga check /
bench (tools/moga/pattern_run.h): 0 pass, 1 fail, 2 bad pattern, 3 no GPU, 4 refused by the GPU
runtime: a refusal is recorded as "refused: <message>", never a crash of the suite.
Time: the JIT modules of all patterns are compiled first, in parallel (`moga check --cpu-only`, NVRTC
only); then every pattern's check, then the benchmarks in file order until --budget-s is spent (the
rest are "skipped: budget"; --resume with the same --out runs only what is missing, so a second call
finishes the suite).
Writes DIR/pattern_suite.json (every row, date, device, commit) and per pattern DIR/<name>.check.log,
DIR/<name>.bench.json. --variant ROW runs every kernel of every pattern on that kernel registry row
(`moga check/bench --variant`; e.g. sm90.ws beside the default run, into another --out, for an A/B).
Exit 1 when a check fails or a run breaks (a target missed only with
--strict-targets), else 0.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_CAP_S, BENCH_CAP_S, PRECOMPILE_CAP_S = 150, 300, 120


def suite_line(path):
    keys, params = {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("# suite:"):
                for w in line[len("# suite:"):].split():
                    k, _, v = w.partition("=")
                    if k == "tiny_param":
                        params.append(v)
                    elif v:
                        keys[k] = v
    return keys


def run(cmd, timeout, log=None):
    """(exit code, output); 124 on timeout (as timeout(1))."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=max(1, timeout))
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), 124
        out += f"\n[run_pattern_suite: killed after {timeout:.0f} s]\n"
    if log:
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n" + out)
    return rc, out


def refused_message(out):
    m = re.search(r"^refused: (.*)$", out, re.M)
    return m.group(1).strip() if m else "refused"


def check_status(rc, out):
    if rc == 0:
        return "PASS"
    if rc == 4:
        return "refused: " + refused_message(out)
    if rc == 3:
        return "no GPU"
    if rc == 124:
        return "FAIL: timeout"
    if rc == 2:
        return "FAIL: does not compile"
    fail = re.findall(r"^\s+(\S.*?)\s+rel L2 (\S+).*FAIL$", out, re.M)
    return "FAIL" + (": " + ", ".join(f"{n} {v}" for n, v in fail[:2]) if fail else f" (exit {rc})")


def verify_peer(a, n, path, keys, timeout):
    """pattern_peer.py --verify at the check shape: "PASS 1.2e-03", "FAIL 5.3e-02" or "error: ..."."""
    d = os.path.join(a.out, n + ".manifest")
    rc, out = run([a.moga, "compile", path, "-o", d], min(60, timeout))
    if rc != 0:
        return f"error: moga compile exit {rc}"
    vj = os.path.join(a.out, n + ".peer_verify.json")
    rc, out = run([sys.executable, os.path.join(ROOT, "bench", "peers", "pattern_peer.py"), "--manifest",
                   os.path.join(d, n + ".json"), "--shape", keys.get("check", ""), "--heads", "4", "--iters", "1",
                   "--verify", "--json", vj], timeout, os.path.join(a.out, n + ".peer_verify.log"))
    try:
        v = json.load(open(vj))["verify"]
        return f"{'PASS' if v['pass'] else 'FAIL'} {v['rel_l2']:.1e}"
    except Exception:  # noqa: BLE001
        return f"error: no verify result (exit {rc})"


def fmt_ms(x):
    return f"{x:.3f}" if isinstance(x, (int, float)) else "-"


def main():
    ap = argparse.ArgumentParser(description="the pattern benchmark suite")
    ap.add_argument("--moga", default=os.path.join(ROOT, "build", "bin", "moga"))
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/moga-pattern-suite"))
    ap.add_argument("--budget-s", type=float, default=540)
    ap.add_argument("--patterns", default="", help="comma-separated names (default: every bench/patterns file)")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--resume", action="store_true", help="keep the rows of an earlier run in --out; run the rest")
    ap.add_argument("--verify-peers", action="store_true", help="before each benchmark, check the FlexAttention peer's "
                    "output against a dense computation of the same programs at the check shape (pattern_peer.py --verify)")
    ap.add_argument("--strict-targets", action="store_true", help="exit 1 when a speed target is missed")
    ap.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="parallel JIT precompiles")
    ap.add_argument("--variant", default="", help="run every kernel on this kernel registry row (moga --variant)")
    a = ap.parse_args()
    vopt = ["--variant", a.variant] if a.variant else []
    t_start = time.time()
    os.makedirs(a.out, exist_ok=True)
    pat_dir = os.path.join(ROOT, "bench", "patterns")
    names = sorted(f[:-5] for f in os.listdir(pat_dir) if f.endswith(".moga"))
    if a.patterns:
        wanted = a.patterns.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            sys.exit(f"run_pattern_suite: unknown pattern(s) {unknown}; bench/patterns has {names}")
        names = wanted
    result_path = os.path.join(a.out, "pattern_suite.json")
    done = {}
    if a.resume and os.path.exists(result_path):
        for r in json.load(open(result_path)).get("rows", []):
            if not r.get("check", "").startswith("skipped") and r.get("bench") != "skipped: budget":
                done[r["pattern"]] = r
    # "-dirty": tracked files differ from the commit, so the binaries may be of another tree than it
    commit = os.environ.get("MOGA_COMMIT") or subprocess.run(
        ["git", "-C", ROOT, "describe", "--always", "--dirty", "--exclude=*", "--abbrev=7"], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True).stdout.strip() or "unknown"
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "commit": commit, "command": " ".join(sys.argv), "budget_s": a.budget_s, "rows": [],
              "variant": a.variant or "default"}

    def left():
        return a.budget_s - (time.time() - t_start)

    todo = [n for n in names if n not in done]
    # Fill the JIT cache for every pattern at once (NVRTC on all cores); refusals show up here already.
    def precompile(n):
        keys = suite_line(os.path.join(pat_dir, n + ".moga"))
        return run([a.moga, "check", os.path.join(pat_dir, n + ".moga"), "--cpu-only", "--shape", keys.get("check", "")] + vopt,
                   min(PRECOMPILE_CAP_S, left()), os.path.join(a.out, n + ".precompile.log"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        list(ex.map(precompile, todo))
    print(f"precompiled {len(todo)} patterns in {time.time() - t_start:.0f} s", flush=True)

    # Phase 1: every pattern's correctness check (cheap, and what must never be skipped for time).
    pending = []
    for n in names:
        if n in done:
            result["rows"].append(done[n])
            continue
        path = os.path.join(pat_dir, n + ".moga")
        keys = suite_line(path)
        row = {"pattern": n, "check_shape": keys.get("check"), "bench_shape": keys.get("bench")}
        result["rows"].append(row)
        if left() < 20:
            row["check"] = "skipped: budget"
            continue
        rc, out = run([a.moga, "check", path, "--shape", keys.get("check", "")] + vopt, min(CHECK_CAP_S, left()),
                      os.path.join(a.out, n + ".check.log"))
        row["check"] = check_status(rc, out)
        print(f"{n}: check {row['check']}", flush=True)
        if rc in (0, 1):  # refused, no GPU, does not compile: bench would say the same
            pending.append((n, path, keys, row))

    # Phase 2: the benchmarks with their peers, in file order, while the budget lasts.
    for n, path, keys, row in pending:
        if left() < 30:
            row["bench"] = "skipped: budget"
            continue
        if a.verify_peers and not a.no_peers:
            row["peer_verify"] = verify_peer(a, n, path, keys, min(BENCH_CAP_S, left()))
            print(f"{n}: peer verify {row['peer_verify']}", flush=True)
        bj = os.path.join(a.out, n + ".bench.json")
        if os.path.exists(bj):
            os.remove(bj)
        cmd = [a.moga, "bench", path, "--shape", keys.get("bench", ""), "--iters", str(a.iters), "--json", bj,
               "--peer-timeout-s", str(int(max(30, min(BENCH_CAP_S, left()) - 30)))] + vopt
        if a.no_peers:
            cmd.append("--no-peers")
        rc, out = run(cmd, min(BENCH_CAP_S, left()), os.path.join(a.out, n + ".bench.log"))
        row["bench_exit"] = rc
        try:
            b = json.load(open(bj))
        except Exception:  # noqa: BLE001
            row["bench"] = f"FAIL: no JSON (exit {rc})"
            continue
        o, peers = b.get("ours", {}), b.get("peers", {})
        row.update(device=b.get("device"), layer_ms=o.get("layer_ms"), kernel_ms=o.get("kernel_ms"),
                   layer_tflops=o.get("layer_tflops"), density=(o.get("visible_pairs") or 0) / max(1, b.get("N", 1)) ** 2,
                   flex_layer_ms=peers.get("flex", {}).get("layer_ms"), flex_kernel_ms=peers.get("flex", {}).get("kernel_ms"),
                   cudnn_ms=peers.get("cudnn", {}).get("ms"), ratios=b.get("ratios", {}),
                   phases=o.get("phases"), host_enqueue_ms=o.get("host_enqueue_ms"))
        row["engines"] = [k.get("engine") for k in o.get("kernels", [])]  # "wgmma sm90.tma 128x176" per kernel
        row["bench"] = "ok" if rc == 0 else f"FAIL (exit {rc})"
        perr = peers.get("error") or peers.get("flex", {}).get("error")
        if perr:
            row["peer_error"] = perr[:200]
        # The peer counts each unrouted kernel's visible pairs from the same programs: they must agree.
        for ko, kp in zip(o.get("kernels", []), peers.get("flex", {}).get("kernels", [])):
            if "visible_pairs" in kp and ko.get("visible_pairs"):
                rel = abs(kp["visible_pairs"] - ko["visible_pairs"]) / max(1.0, ko["visible_pairs"])
                tol = 1e-9 if ko.get("visible_exact") else 6 * max(ko.get("visible_sampled_rel_err", 0), 1e-3)
                if rel > tol:
                    row.setdefault("mask_disagreement", []).append(f"{ko['name']}: ours {ko['visible_pairs']:.0f} "
                                                                    f"peer {kp['visible_pairs']}")
        with open(result_path, "w") as f:
            json.dump(result, f, indent=1)
        print(f"{n}: layer {fmt_ms(row['layer_ms'])} ms, flex kernel {fmt_ms(row['flex_kernel_ms'])} ms, "
              f"cuDNN {fmt_ms(row['cudnn_ms'])} ms [{'; '.join(str(e) for e in row['engines'])}]", flush=True)
        if row.get("phases"):  # moga bench's per-launch split (RunOptions::phase)
            print(f"{n}: kernel {fmt_ms(row['kernel_ms'])} ms; phases " +
                  " ".join(f"{p['phase']} {p['ms']:.3f}" for p in row["phases"]) +
                  f"; host enqueue {fmt_ms(row.get('host_enqueue_ms'))} ms", flush=True)

    result["seconds"] = time.time() - t_start
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)

    # ---- the table -------------------------------------------------------------------------------------
    print()
    print(f"pattern suite: {len(result['rows'])} patterns, variant {result['variant']}, {result['seconds']:.0f} s, "
          f"results in {result_path}")
    hdr = f"{'pattern':<22} {'check':<8} {'layer ms':>9} {'flex ms':>9} {'cuDNN ms':>9} {'ours/flex':>10} {'ours/cuDNN':>11}  note"
    print(hdr)
    failed, t_pass, t_total = 0, 0, 0
    for r in result["rows"]:
        c = r.get("check", "-")
        cshort = ("PASS" if c == "PASS" else "REFUSED" if c.startswith("refused") else "SKIP" if c.startswith("skipped")
                  else "NO-GPU" if c == "no GPU" else "FAIL")
        if (cshort in ("FAIL", "NO-GPU") or str(r.get("bench", "")).startswith("FAIL") or r.get("mask_disagreement")
                or str(r.get("peer_verify", "")).startswith("FAIL")):
            failed += 1
        rat = r.get("ratios", {})

        def cell(key):
            nonlocal t_pass, t_total
            v = rat.get(key)
            if not v:
                return "-"
            t_total += 1
            t_pass += 1 if v["pass"] else 0
            return f"{v['value']:.2f} {'ok' if v['pass'] else 'MISS'}"
        note = c if cshort in ("REFUSED", "SKIP", "NO-GPU") else c[5:] if cshort == "FAIL" else ""
        for extra in ("bench", "peer_verify", "peer_error", "mask_disagreement"):
            if r.get(extra) and r.get(extra) != "ok":
                note += f" {extra}: {r[extra]}"
        print(f"{r['pattern']:<22} {cshort:<8} {fmt_ms(r.get('layer_ms')):>9} {fmt_ms(r.get('flex_kernel_ms')):>9} "
              f"{fmt_ms(r.get('cudnn_ms')):>9} {cell('ours_layer/flex_kernel'):>10} {cell('ours_layer/cudnn_dense'):>11}  {note.strip()[:110]}")
    print(f"targets (ours layer <= 0.8x flex kernel, <= 1.0x cuDNN dense): {t_pass}/{t_total} met")
    skipped = [r["pattern"] for r in result["rows"] if "skipped: budget" in (r.get("check", ""), r.get("bench", ""))]
    if skipped:  # a fresh $OUT (another machine) cannot --resume: name what is left
        print(f"skipped for the budget: {len(skipped)}; to finish: --patterns {','.join(skipped)} (or --resume here)")
        result["skipped_for_budget"] = skipped
    result.update(targets_met=t_pass, targets_total=t_total, failures=failed)
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)
    ok = failed == 0 and (not a.strict_targets or t_pass == t_total)
    print("SUITE PASS" if ok else f"SUITE FAIL: {failed} pattern(s) failed" + ("" if failed else " (targets, --strict-targets)"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
