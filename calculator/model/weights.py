"""Attach a model's weights to its ``ModelSpec``: exact checkpoint bytes from config.json alone.

``with_weights(model, config)`` prices the checkpoint the config describes (``shapes`` for the
tensors, ``quant`` for their format) and records the count, the bytes, a breakdown by part and
where they came from. A model whose architecture has no known shapes keeps its stated parameter
count, and an unquantized one is priced as that count × its 16/32-bit dtype (every tensor of such
a checkpoint is stored in it; GPUs then split the total evenly); a quantized checkpoint that
cannot be priced records the one-line reason, so that capacity refuses to guess a 16-bit size for it (``capacity.plan``).
"""
from __future__ import annotations

from dataclasses import replace

from ..specs import ModelSpec
from .quant import checkpoint, quant_method
from .shapes import PARTS, UnknownArchitecture, param_count, param_shapes

DENSE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def with_weights(model: ModelSpec, config: dict, *, keep_exact: bool = False) -> ModelSpec:
    """``model`` with the weights of ``config``'s checkpoint attached. ``keep_exact``: the model
    already carries exact checkpoint bytes (safetensors headers); keep those, add the parts."""
    try:
        method = quant_method(config) or ""
    except ValueError as exc:
        return replace(model, weights_error=str(exc), quant_method="unknown", config=config)
    try:
        params = param_shapes(config)
    except ValueError as exc:
        item = DENSE_BYTES.get(model.dtype)
        if method or not model.param_count or item is None or not isinstance(exc, UnknownArchitecture):
            return replace(model, weights_error=str(exc), quant_method=method, config=config)
        return replace(model, weight_bytes=model.param_count * item, weight_parts=(),
                       quant_method="", config=config,
                       weights_from=f"{model.param_count:,} parameters × {model.dtype} (the "
                                    "checkpoint's dtype; this architecture's tensors are not "
                                    "listed, so GPUs split them evenly)")
    try:
        ck = checkpoint(config, params)
    except ValueError as exc:  # the shapes are known, the format is not: count, no bytes
        return replace(model, param_count=model.param_count or param_count(params),
                       weights_error=str(exc), quant_method=method, config=config)
    parts = ck.by_part()
    ordered = tuple((p, parts[p]) for p in PARTS if parts.get(p))
    if keep_exact and model.weight_bytes is not None:
        # The headers' bytes stay; a packed checkpoint's stored elements are no parameter count
        # (an int32 qweight holds 8), so a quantized model takes the config's logical count.
        count = ck.param_count if method else model.param_count
        return replace(model, param_count=count, weight_parts=ordered, quant_method=method,
                       config=config)
    return replace(model, param_count=model.param_count or ck.param_count,
                   weight_bytes=ck.weight_bytes, weight_parts=ordered, quant_method=method,
                   weights_from=f"config.json ({ck.format} checkpoint)", config=config)
