"""Compiling .moga sources: the static ``moga-compile`` binary (MLIR is linked into it, not into the
extension). Where it is looked for, in order: ``$MOGA_COMPILE``; ``moga/bin/moga-compile`` inside the
installed package (the build copies it there); ``moga-compile`` on PATH; ``build/bin/moga-compile`` of
the repository this package was built from. Loading compiled patterns never needs it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

_HERE = Path(__file__).resolve().parent


class CompileError(Exception):
    """A pattern did not compile. ``str(e)`` is the compiler's report, as the CLI prints it: each error as
    ``file:line:col: error: message``, the source line and a caret under the span.

    ``diagnostics``: that text; ``errors``: a list of (file, line, col, message) parsed from it."""

    def __init__(self, diagnostics: str):
        super().__init__(diagnostics.rstrip("\n"))
        self.diagnostics = diagnostics
        self.errors: List[Tuple[str, int, int, str]] = [
            (m.group(1), int(m.group(2)), int(m.group(3)), m.group(4))
            for m in re.finditer(r"^(.*?):(\d+):(\d+): error: (.*)$", diagnostics, re.M)
        ]


class CompilerNotFound(RuntimeError):
    pass


def _candidates():
    env = os.environ.get("MOGA_COMPILE")
    if env:
        yield Path(env), "MOGA_COMPILE"
    yield _HERE / "bin" / "moga-compile", "the package"
    w = shutil.which("moga-compile")
    if w:
        yield Path(w), "PATH"
    repo = _HERE.parent.parent  # python/moga -> the repository (a source-tree import)
    yield repo / "build" / "bin" / "moga-compile", "the repository's build"
    try:
        from . import _build_info  # written by the build: where the repository was

        yield Path(_build_info.REPO) / "build" / "bin" / "moga-compile", "the repository's build"
    except ImportError:
        pass


def find_compiler(required: bool = True) -> Optional[str]:
    """The moga-compile binary to use (see the module doc), or None / CompilerNotFound."""
    env = os.environ.get("MOGA_COMPILE")
    if env and not os.access(env, os.X_OK):
        raise CompilerNotFound(f"MOGA_COMPILE={env} is not an executable file")
    for p, _ in _candidates():
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    if required:
        raise CompilerNotFound(
            "moga-compile not found (compiling a .moga pattern needs it; loading a compiled one does not): "
            "set MOGA_COMPILE=/path/to/build/bin/moga-compile, put it on PATH, or reinstall the package "
            "from a build that has it")
    return None


def _param_text(k, v) -> str:
    if isinstance(v, bool):
        raise ValueError(f"params: '{k}' must be an int or a float, got {v!r}")
    if isinstance(v, int):
        return f"{k}={v}"
    if isinstance(v, float):
        return f"{k}={v!r}"
    if isinstance(v, str):
        return f"{k}={v}"
    raise ValueError(f"params: '{k}' must be an int or a float, got {type(v).__name__}")


def run_compiler(path: str, out_dir: str, params: Dict[str, object], head_dim: int,
                 source_name: Optional[str] = None, dumps: bool = True) -> None:
    """moga-compile PATH OUT_DIR k=v... --head-dim D [--dumps] [--source-name NAME]; CompileError on errors."""
    if head_dim not in (64, 128):
        raise ValueError(f"head_dim: must be 64 or 128, got {head_dim!r}")
    exe = find_compiler()
    cmd = [exe, path, out_dir] + [_param_text(k, v) for k, v in (params or {}).items()]
    cmd += ["--head-dim", str(head_dim)]
    if dumps:
        cmd.append("--dumps")
    if source_name is not None:
        cmd += ["--source-name", source_name]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        text = r.stderr or r.stdout or f"moga-compile exited with {r.returncode}"
        if "expected param=value, got '--" in text:
            raise CompilerNotFound(f"{exe} is too old for this package (it lacks --dumps/--head-dim); rebuild it")
        raise CompileError(text)


def compile_source(source: str, source_name: str, params, head_dim: int):
    """Compiles source text; returns (out_dir, stem) of a fresh temporary folder the caller owns."""
    d = tempfile.mkdtemp(prefix="moga-compile-")
    src = os.path.join(d, "pattern.moga")
    with open(src, "w") as f:
        f.write(source)
    try:
        run_compiler(src, d, params, head_dim, source_name=source_name)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d, "pattern"


def compile_file(path: str, params, head_dim: int):
    d = tempfile.mkdtemp(prefix="moga-compile-")
    try:
        run_compiler(path, d, params, head_dim)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d, Path(path).stem
