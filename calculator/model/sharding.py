"""One tensor-parallel rank's share of every checkpoint tensor (Megatron-style, as vLLM and
SGLang build their layers).

``sharded_params(config, tp)`` returns the model's ``Param`` list with each shape cut to one
rank: column-parallel weights (q/k/v, gate/up, MLA's q_b/kv_b, gated DeltaNet projections) lose
rows, row-parallel ones (o_proj, down_proj, out_proj) lose columns and keep any bias whole, the
vocabulary is padded to a multiple of 64 and split (vLLM ``vocab_parallel_embedding.py`` ·
``pad_vocab_size``), KV heads are kept whole and replicated once ``tp`` exceeds them
(``linear.py`` · ``QKVParallelLinear``), Mamba-2 projections split by groups or copy a single
group to every rank (``_mamba_rows``), and norms, routers and MLA's down projections are whole
on every rank (``ReplicatedLinear``). Routed experts are split along their intermediate size, or
with ``expert_parallel`` handed out whole, ``experts / tp`` per rank (``fused_moe/layer.py`` ·
``FusedMoE``). Pricing the result with ``quant.checkpoint`` gives one rank's bytes in the
checkpoint's format. A split that does not divide raises one ``ValueError`` naming ``tp``.
"""
from __future__ import annotations

import re
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
        kv = p.kv_heads or config_int(cfg, "num_key_value_heads")
        module = p.name.rsplit(".", 2)[-2] if p.name.endswith((".weight", ".bias")) else ""
        if heads % tp:
            raise ValueError(f"tp: {tp} does not divide {heads} attention heads")
        if module in ("k_proj", "v_proj", "qkv_proj"):
            # QKVParallelLinear: kv/tp heads per rank, or one replicated head once tp >= kv
            if (kv % tp) if tp < kv else (tp % kv):
                raise ValueError(f"tp: {tp} and {kv} KV heads: neither divides the other")
            if module != "qkv_proj":
                return (shape[0] // kv * max(1, kv // tp),) + shape[1:]
            hd = shape[0] // (heads + 2 * kv)  # Phi-3's fused q/k/v: q rows split, k/v as above
            return ((heads // tp + 2 * max(1, kv // tp)) * hd,) + shape[1:]
        return _div(p, shape[0], tp) + shape[1:]
    if p.split == "mamba":
        return _mamba_rows(p, tp) + shape[1:]
    if p.split == "col":
        return _div(p, shape[0], tp) + shape[1:]
    if p.split == "row":
        return (shape[0],) + _div(p, shape[1], tp) if len(shape) > 1 else shape
    return shape


def _mamba_rows(p: Param, tp: int) -> tuple[int]:
    """A Mamba-2 in_proj / conv1d's rows on one rank (vLLM ``mamba_mixer2.py`` · ``MambaMixer2``):
    split by groups and heads when ``tp`` divides n_groups; with one group every rank also holds
    that group's 2·N rows of B and C (``extra_groups_for_head_shards``: tp − 1 extra groups);
    other group counts are refused, as vLLM asserts."""
    groups, state = p.groups
    if groups % tp == 0:
        return _div(p, p.shape[0], tp)
    if groups != 1:
        raise ValueError(f"tp: {tp} does not divide the Mamba mixer's {groups} groups (vLLM "
                         "replicates a single group only)")
    return (_div(p, p.shape[0] - 2 * state, tp)[0] + 2 * state,)


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


_LAYER = re.compile(r"(?:^|\.)(?:layers|h)\.(\d+)\.")
_FINAL = re.compile(r"^lm_head\.|(?:^|\.)(?:norm|ln_f)\.")


def stage_params(params: list[Param], stages: list[range]) -> list[list[Param]]:
    """``params`` split into pipeline stages: each stage has the decoder layers ``stages`` gives
    it, the first also the embeddings (and any vision tower), the last the final norm and
    lm_head."""
    layers = sorted({int(m.group(1)) for p in params
                     if (m := _LAYER.search(p.name)) and p.part != "vision"})
    if sum(len(r) for r in stages) != len(layers):
        raise ValueError(f"pp: the stages cover {sum(len(r) for r in stages)} layers, the "
                         f"checkpoint has {len(layers)}")
    stage_of = {layers[i]: s for s, r in enumerate(stages) for i in r}
    out: list[list[Param]] = [[] for _ in stages]
    for p in params:
        m = _LAYER.search(p.name)
        if p.part == "vision":  # the whole tower, its norms and merger, runs on the first stage
            out[0].append(p)
        elif m:
            out[stage_of[int(m.group(1))]].append(p)
        elif _FINAL.search(p.name):
            out[-1].append(p)
        else:
            out[0].append(p)
    return out


def vllm_pp_stages(num_layers: int, pp: int) -> list[range]:
    """vLLM's layer split (``distributed/utils.py`` · ``get_pp_indices``): an even share each, the
    remainder one apiece to the stages just before the last."""
    if not 1 <= pp <= num_layers:
        raise ValueError(f"pp: {pp} pipeline stages for {num_layers} layers")
    sizes = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        sizes[-i] += 1
    starts = [sum(sizes[:s]) for s in range(pp)]
    return [range(a, a + n) for a, n in zip(starts, sizes)]
