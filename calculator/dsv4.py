"""DeepSeek-V4's per-layer attention caches, read from its config.json as transformers 5.23.0 does.

``models/deepseek_v4/configuration_deepseek_v4.py`` · ``DeepseekV4Config.__post_init__``:

- ``layer_types`` (``sliding_attention`` / ``compressed_sparse_attention`` /
  ``heavily_compressed_attention``) wins; else the legacy per-layer ``compress_ratios`` (0: the
  window alone, 4: CSA, 128: HCA) as the shipped checkpoints write them; else V4-Pro's default,
  two HCA layers then CSA / HCA alternating. The list is cut to ``num_hidden_layers``: the shipped
  ``compress_ratios`` also lists the MTP / DSpark layers after the main ones.
- ``compress_rates`` (default CSA 4, HCA 128), or the legacy ``compress_rate_csa`` /
  ``compress_rate_hca``.

``modeling_deepseek_v4.py``: every layer keeps a ``sliding_window`` of shared K = V rows
(``DeepseekV4HCACache.update``: ``values = keys``); ``DeepseekV4HCACache`` adds the compressor's
entries (one ``head_dim`` row per ``compress_rate`` tokens), ``DeepseekV4CSACache`` the same plus
the indexer's (``index_head_dim``) and the overlap state. vllm-ascend's ``DeepseekV4Config``
reads a ratio of 1 as uncompressed too; any other ratio is refused here.
"""
from __future__ import annotations

from .config_fields import int_field as _int
from .config_fields import opt_int_field as _opt_int
from .specs import CompressedAttentionSpec

SLIDING, CSA, HCA = ("sliding_attention", "compressed_sparse_attention",
                     "heavily_compressed_attention")
DEFAULT_RATES = {CSA: 4, HCA: 128}
V4_KEYS = ("compress_ratios", "compress_rates", "compress_rate_csa", "compress_rate_hca")


def is_dsv4(cfg: dict) -> bool:
    """A DeepSeek-V4 config: its model_type (SGLang's reference copies say deepseek_ref) or the
    compressor keys."""
    return cfg.get("model_type") in ("deepseek_v4", "deepseek_ref") or any(
        cfg.get(k) is not None for k in V4_KEYS)


def _rates(cfg: dict) -> dict[str, int]:
    rates = dict(DEFAULT_RATES)
    given = cfg.get("compress_rates")
    if given is not None:
        if not isinstance(given, dict) or any(k not in rates for k in given):
            raise ValueError("compress_rates: expected {compressed_sparse_attention: N, "
                             "heavily_compressed_attention: M}")
        rates.update(given)
    for key, kind in (("compress_rate_csa", CSA), ("compress_rate_hca", HCA)):
        if cfg.get(key) is not None:
            rates[kind] = cfg[key]
    for kind, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, int) or not 2 <= rate <= 1 << 20:
            raise ValueError(f"compress_rates: {kind} must be an integer from 2, got {rate!r}")
    if rates[CSA] == rates[HCA]:
        raise ValueError("compress_rates: CSA and HCA need different rates")
    return rates


def layer_types(cfg: dict, n: int, rates: dict[str, int] | None = None) -> list[str]:
    """The attention type of each of the ``n`` main layers (``rates``: ``_rates(cfg)``)."""
    rates = rates or _rates(cfg)
    types = cfg.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or any(t not in (SLIDING, CSA, HCA) for t in types):
            raise ValueError(f"layer_types: DeepSeek-V4 layers are {SLIDING}, {CSA} or {HCA}")
        src = "layer_types"
    elif cfg.get("compress_ratios") is not None:
        ratios = cfg["compress_ratios"]
        by_rate = {0: SLIDING, 1: SLIDING, rates[CSA]: CSA, rates[HCA]: HCA}
        if not isinstance(ratios, list) or any(isinstance(r, bool) or r not in by_rate for r in ratios):
            raise ValueError(f"compress_ratios: expected one of 0, {rates[CSA]} (CSA) or "
                             f"{rates[HCA]} (HCA) per layer")
        types, src = [by_rate[r] for r in ratios], "compress_ratios"
    else:
        types = [HCA] * min(n, 2) + [CSA if i % 2 else HCA for i in range(max(n - 2, 0))]
        src = "layer_types"
    if len(types) < n:
        raise ValueError(f"{src}: {len(types)} entries for num_hidden_layers {n}")
    return list(types[:n])


def dsv4_specs(cfg: dict, n: int, dtype: str) -> list[CompressedAttentionSpec]:
    """One spec per main layer; ``dtype`` is the model's (the compressor state's) dtype."""
    head = _int(cfg, "head_dim")
    window = _int(cfg, "sliding_window", hi=1 << 40)
    kv_heads = _opt_int(cfg, "num_key_value_heads") or 1
    index = _opt_int(cfg, "index_head_dim") or 128  # DeepseekV4Config's default
    rates = _rates(cfg)
    base = dict(head_dim=head, window=window, num_kv_heads=kv_heads, state_dtype=dtype)
    by_type = {SLIDING: CompressedAttentionSpec(**base),
               CSA: CompressedAttentionSpec(**base, compress_rate=rates[CSA], index_head_dim=index),
               HCA: CompressedAttentionSpec(**base, compress_rate=rates[HCA])}
    return [by_type[t] for t in layer_types(cfg, n, rates)]


def refuse_compressed(model, engine: str, why: str = "") -> None:
    """Engines whose DeepSeek-V4 pools are not read refuse it in one line (a ``ValueError``
    naming the engine), instead of sizing its windows as plain sliding attention."""
    if model.has_compressed:
        raise ValueError(f"engine {engine}: DeepSeek-V4's compressed attention (a window on every "
                         "layer, 1/4 and 1/128 compressed entries, the indexer's keys) is not "
                         f"modelled{why}; the theoretical, transformers, sglang and llama.cpp "
                         "modes size it")
