"""moga patterns inside diffusers' Wan2.1 (WanTransformer3DModel): an attention processor.

    import moga.diffusers as md
    procs = md.apply(transformer, "moga")          # every block: self-attention through the pattern
    video = pipe(prompt, ...).frames                # the pipeline as usual

``MoGAAttnProcessor`` has WanAttnProcessor's call signature ``(attn, hidden_states,
encoder_hidden_states=None, attention_mask=None, rotary_emb=None)``. Self-attention (no
encoder_hidden_states) runs through the pattern: q/k/v projections, RMS norms and RoPE exactly as
diffusers does, then the pattern on [B, N, H, D] bf16, with the router input ``hidden_states`` (the
normalised, modulated hidden state the block feeds attn1, as in the MoGA paper and runtime/model) and
the router weights ``router`` (an nn.ParameterList, nn.Linear layout [M, dim], one per routed kernel of
the pattern): the processor is an nn.Module, so once set on a WanAttention its weights are the
module's parameters (``blocks.3.attn1.processor.router.0``; state_dict, .to(), training).
Cross-attention (encoder_hidden_states given) runs through the builtin ``full`` pattern (k/v of the
text tokens, and of the image tokens for I2V) with ``cross="full"``, or is left to diffusers' own
WanAttnProcessor with ``cross="diffusers"``.

The pattern needs the latent grid (F, H, W after patching) for ``layout video``: ``apply`` registers
a forward pre-hook on the transformer that reads it from the input latents and the config's
patch_size; without it set ``processor.grid = (F, H, W)`` (and ``processor.shots``) yourself.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

import moga as _moga
from ._branches import BranchMean
from ._pattern import Pattern
from ._shapes import seq, video


class _GridState:
    """The latent grid shared by every processor of one transformer (set by the pre-hook)."""

    def __init__(self):
        self.grid: Optional[Tuple[int, int, int]] = None
        self.shots: Tuple[int, ...] = ()


def _as_pattern(p, params=None):
    if isinstance(p, (Pattern, BranchMean)):
        return p
    if isinstance(p, (list, tuple)):  # the mean of several patterns (moga.mean_of)
        return BranchMean([_as_pattern(x, params) for x in p])
    if isinstance(p, str) and p in _moga.builtin_names():
        return _moga.pattern(p, params=params)
    return _moga.compile(p, params=params)


def _get_qkv_projections(attn, hidden_states, encoder_hidden_states):
    # diffusers' transformer_wan._get_qkv_projections (fused or separate projections)
    if encoder_hidden_states is None:
        encoder_hidden_states = hidden_states
    if getattr(attn, "fused_projections", False):
        if not attn.is_cross_attention:
            return attn.to_qkv(hidden_states).chunk(3, dim=-1)
        key, value = attn.to_kv(encoder_hidden_states).chunk(2, dim=-1)
        return attn.to_q(hidden_states), key, value
    return attn.to_q(hidden_states), attn.to_k(encoder_hidden_states), attn.to_v(encoder_hidden_states)


def _get_added_kv_projections(attn, encoder_hidden_states_img):
    if getattr(attn, "fused_projections", False):
        return attn.to_added_kv(encoder_hidden_states_img).chunk(2, dim=-1)
    return attn.add_k_proj(encoder_hidden_states_img), attn.add_v_proj(encoder_hidden_states_img)


def _apply_rotary_emb(x: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor) -> torch.Tensor:
    # diffusers' WanAttnProcessor (transformer_wan.py), the same arithmetic.
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos = freqs_cos[..., 0::2]
    sin = freqs_sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(x)


class MoGAAttnProcessor(nn.Module):
    """An attention processor for diffusers' WanAttention running self-attention through a moga pattern.

    pattern: a moga.Pattern, a shipped name ("moga", "full", ...), a .moga path or source, or a list of them
        (their mean: moga.mean_of).
    dim: the model width (router input); needed when the pattern is routed and ``router_weights`` is None.
    router_weights: initial W_r per routed kernel, [M, dim] (nn.Linear layout); default: nn.Linear's init.
    cross: "full" (cross-attention through the builtin dense pattern) or "diffusers" (WanAttnProcessor).
    grid / shots: the latent grid (F, H, W after patching) and shot starts, when no pre-hook sets them.
    """

    def __init__(self, pattern: Union[str, Pattern] = "moga", *, dim: Optional[int] = None,
                 router_weights: Optional[Sequence[torch.Tensor]] = None, params: Optional[dict] = None,
                 cross: str = "full", grid: Optional[Tuple[int, int, int]] = None, shots: Sequence[int] = (),
                 self_attention: bool = True, _state: Optional[_GridState] = None,
                 _cross_pattern: Optional[Pattern] = None):
        super().__init__()
        if cross not in ("full", "diffusers"):
            raise ValueError(f"cross: expected 'full' or 'diffusers', got {cross!r}")
        self.pattern = _as_pattern(pattern, params)
        self.cross = cross
        self._cross_pattern = _cross_pattern
        self._state = _state or _GridState()
        if grid is not None:
            self._state.grid = tuple(grid)
            self._state.shots = tuple(shots)
        self.router = nn.ParameterList()
        # a processor that only ever sees cross-attention (attn2) needs no router
        groups = self.pattern.router_groups if self_attention else []
        if router_weights is not None:
            if len(router_weights) != len(groups):
                raise ValueError(f"router_weights: pattern '{self.pattern.name}' has {len(groups)} routed "
                                 f"kernel(s), got {len(router_weights)}")
            for w, M in zip(router_weights, groups):
                if w.dim() != 2 or w.shape[0] != M:
                    raise ValueError(f"router_weights: expected [M, dim] = [{M}, dim], got {list(w.shape)}")
                self.router.append(nn.Parameter(w.detach().clone()))
        elif groups and self_attention:
            if dim is None:
                raise ValueError(f"dim: pattern '{self.pattern.name}' is routed: give the model width (dim) "
                                 f"or router_weights")
            for M in groups:
                lin = nn.Linear(dim, M, bias=False)
                self.router.append(nn.Parameter(lin.weight.detach().clone()))
        self._diffusers_proc = None
        # Training (a forward with gradients enabled and trainable routers): the router balance loss of this
        # call (moga.train.balance_loss, summed over the routers) and each router's group fractions F.
        self.balance_weight = 0.1
        self.last_balance_loss: Optional[torch.Tensor] = None
        self.last_group_fractions: Optional[torch.Tensor] = None

    def _router_topk(self):
        p = self.pattern
        return p.router_topk if isinstance(p, BranchMean) else [p.kernels[i]["topk"] for i in p.routed_kernels]

    def _record_balance(self, x, ws):
        from .train import balance_loss

        losses, fr = [], []
        for w, kk in zip(ws, self._router_topk()):
            loss, F = balance_loss(x, w, topk=kk, weight=self.balance_weight)
            losses.append(loss)
            fr.append(F)
        self.last_balance_loss = torch.stack(losses).sum()
        self.last_group_fractions = fr[0] if len(fr) == 1 else torch.cat(fr)

    # grid ------------------------------------------------------------------------------------------------
    @property
    def grid(self):
        return self._state.grid

    @grid.setter
    def grid(self, g):
        self._state.grid = None if g is None else tuple(int(x) for x in g)

    @property
    def shots(self):
        return self._state.shots

    @shots.setter
    def shots(self, s):
        self._state.shots = tuple(int(x) for x in s)

    def _shape(self, n_tokens: int):
        if self.pattern.layout == "seq":
            return seq(n_tokens)
        g = self._state.grid
        if g is None:
            raise ValueError("grid: the pattern has layout video and the latent grid is unknown: use "
                             "moga.diffusers.apply(transformer, ...) (it reads the grid from the input) or set "
                             "processor.grid = (F, H, W) (after patching)")
        sh = video(*g, shots=self._state.shots)
        if sh.N != n_tokens:
            raise ValueError(f"grid: {g} has {sh.N} tokens but hidden_states has {n_tokens} (a stale grid?)")
        return sh

    # attention -----------------------------------------------------------------------------------------
    @staticmethod
    def _bf16(t):
        return t if t.dtype == torch.bfloat16 else t.to(torch.bfloat16)

    def _run(self, pat: Pattern, q, k, v, **kw):
        dt = q.dtype
        o = pat(self._bf16(q), self._bf16(k), self._bf16(v), **kw) if q.device.type == "cuda" \
            else pat(q, k, v, **kw)
        return o.to(dt)

    def forward(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None,
                rotary_emb: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> torch.Tensor:
        # Cross-attention (text keys: Nk != N) has no moga backward: when gradients are wanted it runs in
        # diffusers' processor (SDPA), whatever `cross` says.
        training = torch.is_grad_enabled() and (hidden_states.requires_grad or any(
            p.requires_grad for p in attn.parameters()))
        if encoder_hidden_states is not None and (self.cross == "diffusers" or training):
            if self._diffusers_proc is None:
                from diffusers.models.transformers.transformer_wan import WanAttnProcessor

                self._diffusers_proc = WanAttnProcessor()
            return self._diffusers_proc(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
        if attention_mask is not None:
            raise ValueError("attention_mask: MoGAAttnProcessor does not take a mask (the pattern is the mask)")
        encoder_hidden_states_img = None
        if encoder_hidden_states is not None and attn.add_k_proj is not None:
            image_context_length = encoder_hidden_states.shape[1] - 512  # as diffusers: 512 text tokens
            encoder_hidden_states_img = encoder_hidden_states[:, :image_context_length]
            encoder_hidden_states = encoder_hidden_states[:, image_context_length:]

        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        query = query.unflatten(2, (attn.heads, -1))
        key = key.unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query = _apply_rotary_emb(query, *rotary_emb)
            key = _apply_rotary_emb(key, *rotary_emb)

        if encoder_hidden_states is None:  # self-attention: the pattern
            kw = {"shape": self._shape(query.shape[1])}
            if self.pattern.routed_kernels:
                if len(self.router) != len(self.pattern.routed_kernels):
                    raise ValueError("router: this processor was made for cross-attention (self_attention=False)")
                x = hidden_states
                ws = [w.t() for w in self.router]
                if x.device.type == "cuda":
                    x = self._bf16(x)
                    ws = [self._bf16(w) for w in ws]
                kw.update(router_x=x, router_w=ws)
                if torch.is_grad_enabled() and any(w.requires_grad for w in self.router):
                    self._record_balance(x, ws)
            out = self._run(self.pattern, query, key, value, **kw)
        else:  # cross-attention: dense over the context
            if self._cross_pattern is None:
                self._cross_pattern = _moga.pattern("full")
            cp = self._cross_pattern
            out = self._run(cp, query, key, value, shape=seq(query.shape[1]))
            if encoder_hidden_states_img is not None:
                key_img, value_img = _get_added_kv_projections(attn, encoder_hidden_states_img)
                key_img = attn.norm_added_k(key_img).unflatten(2, (attn.heads, -1))
                value_img = value_img.unflatten(2, (attn.heads, -1))
                out = out + self._run(cp, query, key_img, value_img, shape=seq(query.shape[1]))
        out = out.flatten(2, 3).type_as(query)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        return out


def _grid_hook(state: _GridState, patch: Sequence[int]):
    pt, ph, pw = patch

    def hook(module, args, kwargs):
        hs = kwargs.get("hidden_states", args[0] if args else None)
        if hs is not None and hs.dim() == 5:
            _, _, f, h, w = hs.shape
            state.grid = (f // pt, h // ph, w // pw)
        return None

    return hook


def apply(transformer, pattern: Union[str, Pattern] = "moga", *, params: Optional[dict] = None,
          cross: str = "full", router_weights: Optional[Dict[int, Sequence[torch.Tensor]]] = None,
          shots: Sequence[int] = ()) -> Dict[str, MoGAAttnProcessor]:
    """Sets a MoGAAttnProcessor on every attention of a WanTransformer3DModel (``set_attn_processor``
    with one processor per layer: each block gets its own router weights) and registers the pre-hook
    that gives them the latent grid. ``router_weights``: per block index, the W_r list ([M, dim] each).
    ``shots``: first latent frame of each shot (after patching). Returns the processors by name; their
    router weights are the transformer's parameters from now on (moved with .to(): call
    transformer.to(device, dtype) after apply, or move the processors)."""
    pat = _as_pattern(pattern, params)
    full = _moga.pattern("full")
    state = _GridState()
    state.shots = tuple(shots)
    dim = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    procs = {}
    for name in transformer.attn_processors.keys():
        # "blocks.3.attn1.processor"
        parts = name.split(".")
        block = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        w = router_weights.get(block) if router_weights and block is not None else None
        module = transformer.get_submodule(name.rsplit(".", 1)[0])
        is_self = not getattr(module, "is_cross_attention", False)
        procs[name] = MoGAAttnProcessor(pat, dim=dim, router_weights=w if is_self else None, cross=cross,
                                        self_attention=is_self, _state=state, _cross_pattern=full)
    ref = next(transformer.parameters())
    transformer.set_attn_processor(dict(procs))
    for p in procs.values():
        p.to(device=ref.device, dtype=ref.dtype)
    patch = tuple(transformer.config.patch_size)
    if getattr(transformer, "_moga_hook", None) is not None:
        transformer._moga_hook.remove()
    transformer._moga_hook = transformer.register_forward_pre_hook(_grid_hook(state, patch), with_kwargs=True)
    return procs
