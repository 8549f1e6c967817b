"""compressed-tensors checkpoints (llm-compressor): which scheme of ``config_groups`` targets a
Linear, and the tensors it stores.

``float-quantized`` / ``int-quantized`` weights at 8 bits carry a ``weight_scale`` of the
strategy's shape in the model dtype (tensor [1], channel [out, 1], group [out, in/g], block
[out/b0, in/b1]); ``pack-quantized`` int4/int8 pack into int32 ``weight_packed`` [out, in·bits/32]
with ``weight_shape``; ``nvfp4-pack-quantized`` stores U8 ``weight_packed`` [out, in/2], an F8
``weight_scale`` per 16 and F32 global scales (compressed_tensors
``quantization/lifecycle/initialize.py``, ``compressors/``). ``ignore`` entries and targets are
module names or ``re:`` patterns matched from the start.
"""
from __future__ import annotations

import re

from .shapes import Param
from .stored import Stored, _cdiv, _group, _list, _module, _qint, _t

def _ct_scheme(p: Param, qc: dict) -> dict | None:
    """The compressed-tensors weight scheme that targets this module (None: left unquantized)."""
    module = _module(p)
    for pattern in _list(qc, "ignore"):
        if _ct_match(module, pattern):
            return None
    groups = qc.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise ValueError("quantization_config.config_groups: missing (compressed-tensors)")
    for group in groups.values():
        if not isinstance(group, dict):
            raise ValueError("quantization_config.config_groups: each group must be an object")
        targets = group.get("targets") or []
        if any(t == "Linear" or _ct_match(module, t) for t in targets if isinstance(t, str)):
            return group
    return None


def _ct_match(module: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.match(pattern[3:], module) is not None
    return module == pattern or module.endswith("." + pattern)


CT_SCALE_SHAPES = ("tensor", "channel", "group", "block", "tensor_group")


def _compressed(p: Param, qc: dict, model_st: str, group: dict) -> list[Stored]:
    w = group.get("weights")
    if not isinstance(w, dict):
        raise ValueError("quantization_config.config_groups: a group has no 'weights' scheme")
    fmt = str(group.get("format") or qc.get("format") or "")
    bits = _qint(w, "num_bits", 8, allowed=(4, 8))
    kind = w.get("type", "int")
    strategy = w.get("strategy", "tensor")
    if strategy not in CT_SCALE_SHAPES:
        raise ValueError(f"quantization_config: compressed-tensors strategy {strategy!r} is not priced")
    out, inn = p.shape
    gsize = 0
    if strategy in ("group", "tensor_group"):
        gsize = _group(w, "group_size")
        scale_shape: tuple[int, ...] = (out, 1 if gsize == -1 else _cdiv(inn, gsize))
    elif strategy == "block":
        block = w.get("block_structure")
        if (not isinstance(block, list) or len(block) != 2 or not all(
                isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 1 << 20 for b in block)):
            raise ValueError("quantization_config: block strategy needs block_structure [rows, cols]")
        scale_shape = (_cdiv(out, block[0]), _cdiv(inn, block[1]))
    elif strategy == "channel":
        scale_shape = (out, 1)
    else:
        scale_shape = (1,)
    acts = group.get("input_activations")
    static_in = isinstance(acts, dict) and acts.get("dynamic") is False
    if fmt == "nvfp4-pack-quantized":
        ts = [_t(p, "weight_packed", "U8", (out, inn // 2)),
              _t(p, "weight_scale", "F8_E4M3", (out, _cdiv(inn, gsize if gsize > 0 else 16))),
              _t(p, "weight_global_scale", "F32", (1,))]
        if isinstance(acts, dict):
            ts.append(_t(p, "input_global_scale", "F32", (1,)))
        return ts
    if fmt == "pack-quantized":
        ts = [_t(p, "weight_packed", "I32", (out, _cdiv(inn * bits, 32))),
              _t(p, "weight_scale", model_st, scale_shape), _t(p, "weight_shape", "I64", (2,))]
        if w.get("symmetric") is False:
            ts.append(_t(p, "weight_zero_point", "I32", (_cdiv(out * bits, 32),) + scale_shape[1:]))
        if w.get("actorder") == "group":
            ts.append(_t(p, "weight_g_idx", "I32", (inn,)))
        return ts
    if fmt in ("float-quantized", "int-quantized", "naive-quantized") and bits == 8:
        ts = [_t(p, "weight", "F8_E4M3" if kind == "float" else "I8", (out, inn)),
              _t(p, "weight_scale", model_st, scale_shape)]
        if w.get("symmetric") is False:
            ts.append(_t(p, "weight_zero_point", "I8", scale_shape))
        if static_in:
            ts.append(_t(p, "input_scale", model_st, (1,)))
        return ts
    raise ValueError(f"quantization_config.format: compressed-tensors {fmt or 'None'!r} at "
                     f"{bits} bits is not priced")
