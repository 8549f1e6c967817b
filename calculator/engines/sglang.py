"""SGLang engine mode: the token-to-KV pool SGLang allocates per GPU, and the line it logs.

Rules reproduced, read at sgl-project/sglang (python/sglang/srt):

- ``model_executor/model_runner.py``, ``ModelRunner.profile_max_num_token``: one token's cell is
  kv_heads_per_rank × head_dim × layers × 2 × element size (MLA: (kv_lora_rank + rope) × layers
  × element size, replicated on every rank); the pool holds int(rest_memory · 2³⁰ // cell)
  tokens, rest_memory being the GiB left under ``--mem-fraction-static``.
- ``mem_cache/memory_pool.py``, ``MHATokenToKVPool._create_buffers`` / ``MLATokenToKVPool``:
  each layer's K and V buffers hold ``size + page_size`` tokens (slot 0 is a padded dummy), and
  the constructor logs ``KV Cache is allocated. #tokens: N, K size: X GB, V size: Y GB`` (MLA:
  ``KV size``) with GB = 1024³ bytes.

Models whose attention layers differ (sliding windows, hybrid state) use SGLang's SWA and hybrid
pools, which are not modelled here: asking for them is a ``ValueError``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..specs import FullAttentionSpec, MLASpec, ModelSpec, SlidingWindowSpec, StateSpec

SGLANG_VERSION = "SGLang (model_runner.profile_max_num_token, memory_pool.py)"
KV_CACHE_DTYPES = ("auto", "fp8_e5m2", "fp8_e4m3")
GB = 1024 ** 3
_AUTO_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass(frozen=True)
class SglangPool:
    model: str
    tokens: int            # #tokens: the pool's usable size
    page_size: int
    mla: bool
    cell_size: int         # bytes of one token over all layers (K + V, or the latent)
    k_bytes: int           # K buffers (MLA: the latent buffers)
    v_bytes: int           # V buffers (MLA: 0)

    @property
    def total_bytes(self) -> int:
        return self.k_bytes + self.v_bytes

    def log_line(self) -> str:
        if self.mla:
            return f"KV Cache is allocated. #tokens: {self.tokens}, KV size: {self.k_bytes / GB:.2f} GB"
        return (f"KV Cache is allocated. #tokens: {self.tokens}, K size: {self.k_bytes / GB:.2f} GB, "
                f"V size: {self.v_bytes / GB:.2f} GB")


def _shape(model: ModelSpec, kv_cache_dtype: str, tp: int) -> tuple[bool, int, int, int]:
    """(mla, layers, elements per token per layer per K-or-latent, element bytes)."""
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise ValueError(f"kv-cache-dtype: SGLang has {', '.join(KV_CACHE_DTYPES)}, got {kv_cache_dtype!r}")
    if kv_cache_dtype == "auto":
        if model.dtype not in _AUTO_BYTES:
            raise ValueError(f"kv-cache-dtype: auto needs a float model dtype, not {model.dtype}")
        item = _AUTO_BYTES[model.dtype]
    else:
        item = 1
    specs = [g.spec for g in model.groups]
    if any(isinstance(s, (StateSpec, SlidingWindowSpec)) for s in specs) or len(set(specs)) > 1:
        raise ValueError("engine sglang: only models whose attention layers are all alike are "
                         "modelled (SGLang's SWA and hybrid pools are not); use --engine theoretical")
    spec, layers = specs[0], model.num_layers
    if isinstance(spec, MLASpec):
        return True, layers, spec.kv_lora_rank + spec.qk_rope_head_dim, item
    assert isinstance(spec, FullAttentionSpec)
    if spec.head_dim_k != spec.head_dim_v:
        raise ValueError("engine sglang: K and V head dims differ; not modelled")
    if model.num_attention_heads % tp:
        raise ValueError(f"tp: {model.num_attention_heads} attention heads are not divisible by "
                         f"tensor parallel size {tp}")
    return False, layers, max(1, spec.num_kv_heads // tp) * spec.head_dim_k, item


def pool(model: ModelSpec, *, tokens: int | None = None, kv_memory: int | None = None,
         page_size: int = 1, kv_cache_dtype: str = "auto", tp: int = 1) -> SglangPool:
    """SGLang's pool for ``tokens`` (its #tokens), or for the ``kv_memory`` bytes left per GPU."""
    if page_size < 1:
        raise ValueError("page-size: must be at least 1")
    mla, layers, width, item = _shape(model, kv_cache_dtype, tp)
    cell = width * layers * item * (1 if mla else 2)
    if tokens is None:
        if kv_memory is None or kv_memory <= 0:
            raise ValueError("kv-memory: give the memory SGLang has for the pool")
        tokens = kv_memory // cell
        if tokens <= 0:
            raise ValueError("kv-memory: not enough memory for one token; SGLang would stop here")
    buffer = layers * (tokens + page_size) * width * item  # every layer: size + page_size rows
    return SglangPool(model=model.name, tokens=tokens, page_size=page_size, mla=mla, cell_size=cell,
                      k_bytes=buffer, v_bytes=0 if mla else buffer)
