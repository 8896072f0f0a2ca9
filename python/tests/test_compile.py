"""Compiling (through moga-compile), errors with the CLI's caret text, loading, dumps, sparsity,
validation without a device, the tuning database (dry run)."""
import os
import re
import subprocess

import pytest

import moga
from conftest import PATTERNS

CAUSAL = """pattern my_causal
layout seq
mask q.pos >= kv.pos
"""

TYPO = """pattern typo
layout seq
param window = 64
mask abs(q.pos - kv.pos) <= windw
"""


def test_compile_source_text():
    p = moga.compile(CAUSAL)
    assert p.name == "my_causal"
    assert p.layout == "seq"
    assert [k["structure"] for k in p.kernels] == ["masked"]
    assert p.routed_kernels == []
    assert "moga_gen_my_causal" in p.cuda


def test_compile_file_with_params():
    p = moga.compile(os.path.join(PATTERNS, "moga_dynamic.moga"), params={"M": 16})
    assert p.name == "moga_dynamic"
    assert p.router_groups == [16]
    assert p.params["M"] == 16
    p64 = moga.compile(os.path.join(PATTERNS, "causal.moga"), head_dim=64)
    assert p64.manifest["head_dim"] == 64


def test_shipped_patterns_without_compiler(monkeypatch):
    monkeypatch.setenv("MOGA_COMPILE", "/nonexistent/moga-compile")
    names = moga.builtin_names()
    for n in ("full", "causal", "moga", "moga_dynamic", "stga", "frame_local"):
        assert n in names
    for n in names:
        p = moga.pattern(n)
        assert p.name == n
        assert p.dump("cuda") == p.cuda  # no compiler needed for the CUDA dump
    with pytest.raises(moga.CompilerNotFound):
        moga.pattern("moga", params={"M": 16})
    with pytest.raises(moga.PatternError, match="no shipped pattern 'nope'"):
        moga.pattern("nope")


def test_shipped_pattern_params():
    p = moga.pattern("moga", params={"M": 16})
    assert p.router_groups == [16]
    assert moga.pattern("moga").router_groups == [5]


def test_compile_error_text():
    with pytest.raises(moga.CompileError) as ei:
        moga.compile(TYPO)
    e = ei.value
    text = str(e)
    assert "<string>:4:29: error: unknown identifier 'windw'; did you mean 'window'?" in text
    lines = text.splitlines()
    i = next(j for j, l in enumerate(lines) if "error:" in l)
    assert lines[i + 1] == "mask abs(q.pos - kv.pos) <= windw"
    assert lines[i + 2].strip().startswith("^")
    assert lines[i + 2].index("^") == lines[i + 1].index("windw")
    assert e.errors == [("<string>", 4, 29, "unknown identifier 'windw'; did you mean 'window'?")]


def test_compile_error_file_matches_cli(tmp_path):
    f = tmp_path / "typo.moga"
    f.write_text(TYPO)
    with pytest.raises(moga.CompileError) as ei:
        moga.compile(str(f))
    # the same text the compiler prints on the command line
    r = subprocess.run([moga.find_compiler(), str(f), str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 1
    assert str(ei.value) == r.stderr.rstrip("\n")
    assert str(ei.value).startswith(f"{f}:4:29: error:")


def test_compile_errors_several_and_params():
    src = "pattern two\nlayout seq\nmask q.frame == kv.pos && x > 1\n"
    with pytest.raises(moga.CompileError) as ei:
        moga.compile(src)
    assert len(ei.value.errors) >= 2
    with pytest.raises(moga.CompileError, match="param"):
        moga.compile(CAUSAL, params={"nope": 3})
    with pytest.raises(ValueError, match="head_dim"):
        moga.compile(CAUSAL, head_dim=96)


def test_dumps():
    p = moga.compile(CAUSAL)
    ast = p.dump("ast")
    assert "my_causal" in ast
    attn = p.dump("attn")
    assert "attn." in attn and "module" in attn
    lowered = p.dump("lowered")
    assert "attn." in lowered and lowered != attn
    assert "moga_gen_my_causal" in p.dump("cuda")
    with pytest.raises(ValueError, match="stage"):
        p.dump("ptx")
    # shipped patterns: recompiled from the embedded source
    assert "stga" in moga.pattern("moga").dump("ast")


def test_save_load_roundtrip(tmp_path, monkeypatch):
    p = moga.compile(CAUSAL)
    p.dump("ast")
    d = p.save(tmp_path / "c")
    assert sorted(os.listdir(d)) == ["my_causal.ast", "my_causal.attn.mlir", "my_causal.cu", "my_causal.json",
                                     "my_causal.lowered.mlir", "my_causal.moga"]
    monkeypatch.setenv("MOGA_COMPILE", "/nonexistent/moga-compile")
    q = moga.load(d)
    assert q.name == "my_causal" and q.cuda == p.cuda
    assert q.dump("ast") == p.dump("ast")  # kept: no compiler needed


def test_load_cli_output(tmp_path, monkeypatch):
    out = tmp_path / "cli"
    subprocess.run([moga.find_compiler(), os.path.join(PATTERNS, "stga.moga"), str(out)], check=True)
    monkeypatch.setenv("MOGA_COMPILE", "/nonexistent/moga-compile")
    p = moga.load(out)
    assert p.name == "stga" and p.layout == "video"
    with pytest.raises(moga.PatternError, match="not a folder"):
        moga.load(tmp_path / "missing")


def test_sparsity():
    p = moga.pattern("causal")
    s = p.sparsity(moga.seq(1000))
    assert len(s) == 1
    k = s[0]
    assert k["density"] == pytest.approx(1001 / 2000, rel=1e-9)
    assert re.match(r"causal: \d+x\d+ tiles \(BM=\d+, BN=\d+\): [\d.]+% empty, [\d.]+% full, [\d.]+% partial; "
                    r"density 50\.0%", str(s))
    assert k["empty"] + k["full"] + k["partial"] == k["tiles_q"] * k["tiles_k"]
    m = moga.pattern("moga").sparsity(moga.video(5, 13, 17, shots=[0, 3]))
    assert [k["name"] for k in m] == [k["name"] for k in moga.pattern("moga").kernels]
    with pytest.raises(ValueError, match="has layout seq"):
        p.sparsity(moga.video(2, 3, 4))


def test_shapes():
    assert moga.video(4, 3, 5, shots=[2]).shots == (0, 2)
    assert moga.video(4, 3, 5, shots=[0]).shots == ()
    assert moga.video(4, 3, 5).N == 60
    with pytest.raises(ValueError, match="increasing"):
        moga.video(4, 3, 5, shots=[0, 2, 1])
    with pytest.raises(ValueError, match="positive"):
        moga.seq(0)


def test_validate_without_device():
    p = moga.pattern("moga_dynamic")
    B, N, H, D = 1, 256, 2, 128
    good = moga.view(1 << 20, (B, N, H, D))
    x = moga.view(1 << 24, (B, N, 64))
    w = moga.view(1 << 26, (64, 5))
    sh = moga.video(1, 16, 16)
    p.validate(good, good._replace(ptr=2 << 20), good._replace(ptr=3 << 20), good._replace(ptr=4 << 20),
               shape=sh, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^k:"):
        p.validate(good, moga.view(2 << 20, (B, N, H, 64)), good._replace(ptr=3 << 20), good._replace(ptr=4 << 20),
                   shape=sh, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^q:"):
        p.validate(moga.view(1 << 20, (B, N, H, D), dtype="f32"), good._replace(ptr=2 << 20),
                   good._replace(ptr=3 << 20), good._replace(ptr=4 << 20), shape=sh, router_x=x,
                   router_w=[w])
    with pytest.raises(ValueError, match=r"out"):  # out aliases q
        p.validate(good, good._replace(ptr=2 << 20), good._replace(ptr=3 << 20), good, shape=sh,
                   router_x=x, router_w=[w])
    with pytest.raises(ValueError, match="router"):
        p.validate(good, good._replace(ptr=2 << 20), good._replace(ptr=3 << 20), good._replace(ptr=4 << 20),
                   shape=sh)
    with pytest.raises(ValueError, match="shape"):
        p.validate(good, good._replace(ptr=2 << 20), good._replace(ptr=3 << 20), good._replace(ptr=4 << 20),
                   shape=moga.video(1, 16, 17), router_x=x, router_w=[w])


def test_tune_dry_run_uses_the_cli_database(cache_dir):
    p = moga.pattern("causal")
    rows = moga.tune(p, moga.seq(4096), heads=12, head_dim=128, dry_run=True)
    assert len(rows) == 1
    r = rows[0]
    assert r["kernel"] == "causal"
    assert r["bucket"] == "N4096-B1-H12-D128"
    assert r["db_path"].startswith(os.path.join(str(cache_dir), "tune") + os.sep)
    assert moga.tune_db_root() == os.path.join(str(cache_dir), "tune")
    assert r["space"] and r["results"] == {}
    assert r["runtime_choice_source"] == "default"


def test_compile_module_without_device(cache_dir):
    """NVRTC compiles the GPU module on a machine without a GPU (fills the disk cache); a second
    compile is a cache hit."""
    p = moga.pattern("causal")
    a = p.compile_module(64)
    assert a["head_dim"] == 64 and not a["cache_hit"] and a["kernels"]
    b = moga.pattern("causal").compile_module(64)
    assert b["cache_hit"]
