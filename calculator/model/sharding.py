"""One tensor-parallel rank's share of every checkpoint tensor (Megatron-style, as vLLM and
SGLang build their layers).

``sharded_params(config, tp)`` returns the model's ``Param`` list with each shape cut to one
rank: column-parallel weights (q/k/v, gate/up, MLA's q_b/kv_b, gated DeltaNet projections) lose
rows, row-parallel ones (o_proj, down_proj, out_proj) lose columns and keep any bias whole, the
vocabulary is padded to a multiple of 64 and split (vLLM ``vocab_parallel_embedding.py`` ·
``pad_vocab_size``), KV heads are kept whole and replicated once ``tp`` exceeds them
(``linear.py`` · ``QKVParallelLinear``), and norms, routers and MLA's down projections are whole
on every rank (``ReplicatedLinear``). Routed experts are split along their intermediate size, or
with ``expert_parallel`` handed out whole, ``experts / tp`` per rank (``fused_moe/layer.py`` ·
``FusedMoE``). Pricing the result with ``quant.checkpoint`` gives one rank's bytes in the
checkpoint's format. A split that does not divide raises one ``ValueError`` naming ``tp``.
"""
from __future__ import annotations

from dataclasses import replace

from ..hf_config import normalize
from .shapes import Param, config_int, param_shapes

VOCAB_PAD = 64


def _tp_shape(p: Param, cfg: dict, tp: int, ep: bool) -> tuple[int, ...]:
    """The logical shape of ``p`` on one rank."""
    shape = p.shape
    if p.split == "vocab":
        rows = -(-shape[0] // VOCAB_PAD) * VOCAB_PAD
        return (-(-rows // tp),) + shape[1:]
    if p.role == "expert" or (p.part == "experts" and p.count > 1):
        if ep:
            return shape
        if p.split == "col":
            return _div(p, shape[0], tp) + shape[1:]
        if p.split == "row":
            return (shape[0],) + _div(p, shape[1], tp) if len(shape) > 1 else shape
        return shape
    if p.split == "qkv":
        heads = config_int(cfg, "num_attention_heads")
        kv = config_int(cfg, "num_key_value_heads")
        module = p.name.rsplit(".", 2)[-2] if p.name.endswith((".weight", ".bias")) else ""
        if heads % tp:
            raise ValueError(f"tp: {tp} does not divide {heads} attention heads")
        if module in ("k_proj", "v_proj"):
            # QKVParallelLinear: kv/tp heads per rank, or one replicated head once tp >= kv
            if (kv % tp) if tp < kv else (tp % kv):
                raise ValueError(f"tp: {tp} and {kv} KV heads: neither divides the other")
            return (shape[0] // kv * max(1, kv // tp),) + shape[1:]
        return _div(p, shape[0], tp) + shape[1:]
    if p.split == "col":
        return _div(p, shape[0], tp) + shape[1:]
    if p.split == "row":
        return (shape[0],) + _div(p, shape[1], tp) if len(shape) > 1 else shape
    return shape


def _div(p: Param, n: int, tp: int) -> tuple[int]:
    if n % tp:
        raise ValueError(f"tp: {tp} does not divide {p.name.replace('{e}', 'E')} ({n})")
    return (n // tp,)


def sharded_params(config: dict, tp: int, *, expert_parallel: bool = False,
                   params: list[Param] | None = None) -> list[Param]:
    """Every tensor as one of ``tp`` ranks holds it."""
    if isinstance(tp, bool) or not isinstance(tp, int) or not 1 <= tp <= 4096:
        raise ValueError(f"tp: must be an integer between 1 and 4096, got {tp!r}")
    cfg = normalize(config)
    params = param_shapes(config) if params is None else params
    ranked = []
    for p in params:
        shape = _tp_shape(p, cfg, tp, expert_parallel)
        count = p.count
        if expert_parallel and p.count > 1:
            if p.count % tp:
                raise ValueError(f"tp: {tp} does not divide {p.count} experts")
            count = p.count // tp
        ranked.append(replace(p, shape=shape, count=count))
    return ranked
