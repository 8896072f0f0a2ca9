"""moga.tune: the autotuner of runtime/tune on a pattern, with the CLI's persistent database."""
from __future__ import annotations

from typing import List, Sequence

from ._pattern import Pattern
from ._shapes import seq


def tune(pat: Pattern, shape, *, heads: int = 12, head_dim: int = 128, batch: int = 1, kernel: str = "",
         configs: Sequence[str] = (), dry_run: bool = False, force: bool = False, retry_failed: bool = False,
         runs: int = 20, warmup: int = 3, d_model: int = 1536, db: str = "", arch: str = "",
         quiet: bool = False) -> List[dict]:
    """Tunes each kernel of `pat` for `shape` x (batch, heads, head_dim), as ``moga tune`` does, keeping
    every result in the same database (``db`` or $MOGA_CACHE_DIR/tune, ...: moga.tune_db_root()). Later
    calls of `pat` (and the CLI, and the DiT) pick the tuned tiles for that shape bucket.

    dry_run=True needs no GPU: per kernel the pruned space, the database file and what it holds, and what
    the runtime would choose. Returns one dict per kernel (kernel, bucket, db_path, space, results,
    best, runtime_choice, ...)."""
    if isinstance(shape, int):
        shape = seq(shape)
    sh = pat._shape(shape, None)
    if runs < 10:
        raise ValueError(f"runs: at least 10 timed calls per config, got {runs}")
    return pat._native.tune(sh.native(), batch, heads, head_dim, kernel, list(configs), dry_run, force,
                            retry_failed, runs, warmup, d_model, db, arch, quiet)
