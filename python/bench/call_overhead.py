#!/usr/bin/env python3
"""The binding's own per-call cost, no GPU needed: converting run()'s arguments (four tensor views, the
shape, the router views) through nanobind (moga._moga: Pattern.parse_only, the conversion run() does)
vs the same data through ctypes into a C function of a C ABI (a struct per view, built per call, as a
ctypes binding would have to). Prints microseconds per call; docs/python.md, "Why nanobind".

  python3 python/bench/call_overhead.py [--n 200000]
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import timeit

import moga

C_SRC = r"""
#include <stdint.h>
typedef struct { uint64_t ptr; int32_t dtype, rank; int64_t shape[6], strides[6]; } View;
typedef struct { int32_t video, N, F, H, W, nshots; int32_t shots[16]; } Shape;
int run_views(const View* q, const View* k, const View* v, const View* out, const Shape* s, const View* x,
              const View* ws, int nw, const int64_t* tokens, int ntok, uint64_t stream) {
  return q->rank + k->rank + v->rank + out->rank + s->N + (x ? x->rank : 0) + nw + ntok + (int)(stream & 1);
}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200000)
    a = ap.parse_args()
    pat = moga.pattern("moga_dynamic")
    B, N, H, D = 1, 32760, 12, 128
    q = tuple(moga.view(1 << 20, (B, N, H, D)))
    x = tuple(moga.view(1 << 30, (B, N, 1536)))
    w = tuple(moga.view(1 << 32, (1536, 5)))
    sh = moga.video(21, 30, 52).native()
    nat = pat._native

    def nb_call():
        nat.parse_only(q, q, q, q, sh, x, [w], [3], 0)

    d = tempfile.mkdtemp()
    so = os.path.join(d, "shim.so")
    src = os.path.join(d, "shim.c")
    open(src, "w").write(C_SRC)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", src, "-o", so], check=True)
    lib = ctypes.CDLL(so)

    class View(ctypes.Structure):
        _fields_ = [("ptr", ctypes.c_uint64), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                    ("shape", ctypes.c_int64 * 6), ("strides", ctypes.c_int64 * 6)]

    class Shape(ctypes.Structure):
        _fields_ = [("video", ctypes.c_int32), ("N", ctypes.c_int32), ("F", ctypes.c_int32), ("H", ctypes.c_int32),
                    ("W", ctypes.c_int32), ("nshots", ctypes.c_int32), ("shots", ctypes.c_int32 * 16)]

    lib.run_views.restype = ctypes.c_int
    P = ctypes.POINTER(View)
    lib.run_views.argtypes = [P, P, P, P, ctypes.POINTER(Shape), P, P, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                              ctypes.c_int, ctypes.c_uint64]

    def mk(t):
        return View(t[0], 0, len(t[2]), (ctypes.c_int64 * 6)(*t[2]), (ctypes.c_int64 * 6)(*t[3]))

    def ct_call():
        vq, vx = mk(q), mk(x)
        ws = (View * 1)(mk(w))
        s = Shape(int(sh[0]), sh[1], sh[2], sh[3], sh[4], len(sh[5]))
        tok = (ctypes.c_int64 * 1)(3)
        lib.run_views(vq, vq, vq, vq, s, vx, ws, 1, tok, 1, 0)

    res = {}
    for name, fn in (("nanobind", nb_call), ("ctypes", ct_call)):
        t = min(timeit.repeat(fn, number=a.n, repeat=3)) / a.n
        res[name] = t * 1e6
        print(f"{name:9s} {t * 1e6:6.2f} us per call (argument conversion of one launch)")
    print(f"ctypes / nanobind: {res['ctypes'] / res['nanobind']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
