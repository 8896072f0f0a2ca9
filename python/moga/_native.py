"""Imports the extension with a readable error when it is missing or cannot load libnvrtc / libcublasLt."""
try:
    from . import _moga  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the installation
    msg = str(e)
    hint = ""
    if "libnvrtc" in msg or "libcublasLt" in msg:
        hint = (" (the extension needs the CUDA toolkit's libnvrtc.so.13 and libcublasLt.so.13: add its folder, "
                "e.g. /usr/local/cuda/lib64, to LD_LIBRARY_PATH, or import torch first)")
    elif "_moga" in msg:
        import os

        here = os.path.dirname(os.path.abspath(__file__))
        if os.path.exists(os.path.join(here, "..", "CMakeLists.txt")):
            hint = (f" (this is the source tree {here}, which has no built extension: install the package with "
                    f"`pip install ./python` and import it from another folder)")
        else:
            hint = " (the extension is not built: install the package with `pip install ./python`)"
    raise ImportError(f"moga: cannot import the extension moga._moga: {msg}{hint}") from e
