"""Training helpers (torch): MoGA's router balance loss and a checkpoint `moga run --weights` loads.

    import moga.train as mt
    loss = flow_loss + mt.balance_loss_of(transformer)      # after a forward with moga.diffusers processors
    mt.save_checkpoint(transformer, "ckpt.safetensors")       # diffusers layout + routers as `moga run` names them

The balance loss (MoGA, arXiv 2510.18692, after Switch Transformer), per router with M groups and top k,
over all B*N tokens of the call: F_i = the fraction of (token, slot) assignments to group i (no gradient),
P_i = the mean router probability of group i; L = weight * M * sum_i F_i P_i (weight 0.1 in the paper). It
is `weight` at perfect balance (F_i = P_i = 1/M) and grows as groups concentrate (up to weight * M). It is computed here in
torch from the router input x and W_r (a [B, N, d] x [d, M] product: small next to the attention), so its
gradient reaches x and W_r through autograd; the groups are the top-k of these float32 logits (the GPU
router's, up to near-ties). The CPU reference's oracle (runtime/reference/backward.h) has the same
definition.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, List, Optional

import numpy as np
import torch


def balance_loss(x: torch.Tensor, w: torch.Tensor, topk: int = 1, weight: float = 0.1):
    """(loss, F): the balance loss of one router (x [B, N, d], W_r [d, M]) and the group fractions F [M]
    (detached)."""
    logits = x.float() @ w.float()
    p = torch.softmax(logits, dim=-1)
    M = p.shape[-1]
    top = logits.detach().topk(topk, dim=-1).indices.reshape(-1)
    # counts by index_add_, not torch.bincount: bincount on CUDA reads the input's max back to the host (a
    # synchronization in every training step); sums of 1.0 are exact, so the order of the adds does not matter
    F = torch.zeros(M, device=top.device).index_add_(0, top, torch.ones(top.numel(), device=top.device)) / top.numel()
    P = p.reshape(-1, M).mean(0)
    return weight * M * (F * P).sum(), F


def balance_loss_of(module: torch.nn.Module) -> torch.Tensor:
    """The sum of the balance losses the MoGAAttnProcessors inside `module` recorded in their last forward
    with gradients enabled (moga.diffusers: processor.last_balance_loss); 0 when there are none."""
    from .diffusers import MoGAAttnProcessor

    terms = [m.last_balance_loss for m in module.modules()
             if isinstance(m, MoGAAttnProcessor) and m.last_balance_loss is not None]
    if not terms:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.stack(terms).sum()


def group_fractions_of(module: torch.nn.Module) -> List[torch.Tensor]:
    """Per processor with a router (module order): F [M] of its last forward with gradients enabled."""
    from .diffusers import MoGAAttnProcessor

    return [m.last_group_fractions for m in module.modules()
            if isinstance(m, MoGAAttnProcessor) and m.last_group_fractions is not None]


# ---- checkpoints ---------------------------------------------------------------------------------------

def router_key(name: str) -> Optional[str]:
    """A processor's router parameter in a diffusers state dict ("blocks.3.attn1.processor.router.0") ->
    the name `moga run` reads in the diffusers layout ("blocks.3.attn1.router.weight"; docs/model.md: Wan2.1's
    `blocks.3.self_attn.router.weight`). One router per block serves every routed branch: index 0 only.
    None for names that are not a router."""
    parts = name.split(".")
    if len(parts) == 6 and parts[0] == "blocks" and parts[2] == "attn1" and parts[3:5] == ["processor", "router"]:
        if parts[5] != "0":
            raise ValueError(f"{name}: `moga run` keeps one router per block (blocks.N.self_attn.router.weight); "
                             f"a pattern with several routed kernels has no checkpoint name for router {parts[5]}")
        return f"blocks.{parts[1]}.attn1.router.weight"
    return None


def moga_state_dict(module: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """The module's state dict as `moga run --weights` reads a diffusers-layout checkpoint: processor router
    weights renamed (router_key), other processor state left out."""
    out = {}
    for k, v in module.state_dict().items():
        if ".processor." in k:
            rk = router_key(k)
            if rk is not None:
                out[rk] = v
            continue
        out[k] = v
    return out


_ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64",
              np.dtype(np.int32): "I32"}


def write_safetensors(tensors: Dict[str, np.ndarray], path: str, metadata: Optional[Dict[str, str]] = None) -> str:
    """A .safetensors file from numpy arrays (no dependency: 8-byte header length, JSON header, raw data)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = _ST_DTYPES.get(a.dtype)
        if dt is None:
            raise ValueError(f"{name}: dtype {a.dtype} is not written (float32, float16, int32, int64)")
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = dict(metadata)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return path


def read_safetensors_header(path: str) -> Dict[str, dict]:
    """The tensors of a .safetensors file by name: {"dtype", "shape", "data_offsets"} (no data read)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def save_checkpoint(module: torch.nn.Module, path: str, metadata: Optional[Dict[str, str]] = None) -> str:
    """Writes moga_state_dict(module) as float32 safetensors (`moga run --config ... --weights path`)."""
    sd = {k: v.detach().float().cpu().numpy() for k, v in moga_state_dict(module).items()}
    return write_safetensors(sd, path, metadata)
