"""Shared helpers of the moga Python tests. Without a GPU the GPU tests skip (pytest.skip with the
reason); without torch (CI: no CUDA torch is installed, see docs/python.md) the torch tests skip too."""
import importlib.util
import os

import numpy as np
import pytest

import moga

HAS_TORCH = importlib.util.find_spec("torch") is not None
DIFFUSERS_WHY = ""
if not HAS_TORCH:
    DIFFUSERS_WHY = "torch is not installed"
elif importlib.util.find_spec("diffusers") is None:
    DIFFUSERS_WHY = "diffusers is not installed (carry its wheel: docs/python.md)"
else:
    try:
        import diffusers  # noqa: F401  (its import checks its dependencies' versions)
    except Exception as e:  # noqa: BLE001
        DIFFUSERS_WHY = f"diffusers does not import: {type(e).__name__}: {e}"[:300]
HAS_DIFFUSERS = not DIFFUSERS_WHY


def cuda_ok():
    if not HAS_TORCH:
        return False, "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return False, "no CUDA device visible to torch"
    ok, why = moga.device_available()
    if not ok:
        return False, f"the moga runtime sees no device: {why}"
    return True, ""


def pytest_collection_modifyitems(config, items):
    ok, why = cuda_ok()
    for it in items:
        if "gpu" in it.keywords and not ok:
            it.add_marker(pytest.mark.skip(reason=f"GPU test: {why}"))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private MOGA_CACHE_DIR (JIT cache and tuning database)."""
    d = tmp_path / "cache"
    monkeypatch.setenv("MOGA_CACHE_DIR", str(d))
    return d


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (den if den > 0 else 1.0))


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PATTERNS = os.path.join(REPO, "kernels_src", "patterns")
