"""moga: attention patterns (a DSL compiled to fused CUDA kernels) from Python. docs/python.md.

    import moga, torch
    pat = moga.compile("pattern.moga", params={"M": 16})      # or moga.pattern("moga")
    out = pat(q, k, v, shape=moga.video(21, 30, 52), router_x=x, router_w=[W_r])
"""
from __future__ import annotations

import importlib.util as _ilu
import os as _os

from ._native import _moga
from ._compiler import CompileError, CompilerNotFound, find_compiler
from ._shapes import Shape, seq, video
from ._views import View, view
from ._pattern import Pattern, Sparsity, builtin_names, compile, load, pattern  # noqa: A004
from ._tune import tune
from ._branches import BranchMean, mean_of

__version__ = _moga.version

PatternError = _moga.PatternError
ManifestError = _moga.ManifestError
JitError = _moga.JitError
CudaError = _moga.CudaError
ProgramError = _moga.ProgramError
ArgumentError = _moga.ArgumentError          # a ValueError
NotSupportedError = _moga.NotSupportedError  # an ArgumentError: a feature the GPU path lacks (top-k > 1)


def device_available():
    """(True, "") when the CUDA driver loads and sees a device, else (False, why)."""
    return _moga.device_available()


def cache_root() -> str:
    """The JIT cache root ($MOGA_CACHE_DIR, else $XDG_CACHE_HOME/moga, else ~/.cache/moga)."""
    return _moga.cache_root()


def tune_db_root() -> str:
    """The tuning database (the CLI's): cache_root()/tune."""
    return _moga.tune_db_root()


# The torch op is registered at import when torch is installed (before any torch.compile trace);
# MOGA_NO_TORCH=1 skips it (then Pattern.__call__ imports it on first use).
HAS_TORCH = _ilu.find_spec("torch") is not None
if HAS_TORCH and _os.environ.get("MOGA_NO_TORCH") != "1":
    from . import _torch_ops  # noqa: F401

__all__ = ["Pattern", "Shape", "Sparsity", "View", "CompileError", "CompilerNotFound", "PatternError",
           "ManifestError", "JitError", "CudaError", "ProgramError", "ArgumentError", "NotSupportedError",
           "compile", "pattern", "load", "builtin_names", "seq", "video", "view", "tune", "find_compiler",
           "device_available", "cache_root", "tune_db_root", "BranchMean", "mean_of"]
