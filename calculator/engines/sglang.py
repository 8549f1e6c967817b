"""SGLang engine mode: the token-to-KV pools SGLang allocates per GPU, and the lines it logs.

Rules reproduced, read at sgl-project/sglang 001ccef0 (python/sglang/srt):

- ``model_executor/model_runner_kv_cache_mixin.py``, ``get_cell_size_per_token`` and
  ``profile_max_num_token``: one token's cell is kv_heads_per_rank × (head_dim + v_head_dim) ×
  layers × element size (MLA: (kv_lora_rank + rope) × layers × element size, replicated on every
  rank; hybrid SWA models: full layers at their geometry plus SWA layers at theirs); the pool holds
  int(rest_memory · 2³⁰) // cell tokens, rest_memory being the GiB left under
  ``--mem-fraction-static``. ``init_memory`` rounds that down to a multiple of ``--page-size``.
- same file, ``set_num_tokens_hybrid_swa``: for the hybrid-SWA architectures of
  ``configs/model_config.py`` ``is_hybrid_swa_model`` (gpt-oss, Llama 4, MiMo-V2, Step-3.5,
  Gemma 4) the memory is split so that SWA tokens = ``--swa-full-tokens-ratio`` (0.8) × full
  tokens, both rounded down to the page size, and it logs ``Use sliding window memory pool.
  full_layer_tokens=F, swa_layer_tokens=S``. Every other model with windows (Gemma 2/3,
  Mistral) gets the plain pool over all layers: SGLang applies their windows in attention only.
- ``mem_cache/memory_pool.py``, ``MHATokenToKVPool._create_buffers`` / ``MLATokenToKVPool``:
  each layer's K and V buffers hold ``size + page_size`` tokens (slot 0 is a padded dummy), and
  ``_finalize_allocation_log`` logs ``KV Cache is allocated. dtype: torch.bfloat16, #tokens: N,
  K size: X GB, V size: Y GB`` (MLA: ``KV size``) with GB = 1024³ bytes. Builds before the dtype
  field print the same line without ``dtype: …,`` (``style="legacy"``); v0.4.1 (January 2025)
  printed ``KV Cache is allocated. K size: X GB, V size: Y GB.`` without ``#tokens``
  (``style="v0.4"``, MHA pools only).
- ``mem_cache/swa_memory_pool.py`` (at 00381c02), ``SWAKVPool``: the SWA layers' pool is built
  (and logged) first, then the full layers' pool, then ``SWAKVPool mem usage: X GB, swa size: S,
  full size: F``.

- DeepSeek sparse attention (``is_deepseek_nsa``: DeepSeek-V3.2, GLM-5), ``NSATokenToKVPool``:
  ``server_args.py`` forces ``--page-size 64`` and, for ``--kv-cache-dtype auto``, bfloat16 on
  Hopper and fp8_e4m3 on Blackwell (capability ≥ 10), logging each change. The latent buffer is
  ``calculate_mla_kv_cache_dim`` wide: 576 elements, or with fp8 656 bytes (512 fp8 + 512 / 128 × 4
  scale bytes + 64 bf16 rope). Each layer also gets ``index_k_with_scale_buffer``:
  ``(size + page_size + 1) // page_size`` pages of ``page_size × 132`` bytes (128 fp8 + one fp32
  scale). ``get_cell_size_per_token`` profiles (kv_lora_rank + rope) × element size + 132 per
  layer (not 656: the fp8 scales and bf16 rope are left out of the estimate), and the ``KV size``
  SGLang logs sums both buffers (``NSATokenToKVPool.get_kv_size_bytes``, since PR #11309, whose
  B200 log this reproduces: 975,424 tokens, 43.67 GB). Read at sgl-project/sglang 001ccef0.

- Nemotron-NAS (``DeciLMForCausalLM``, models/nemotron_nas.py at 15a024d4, PR #9067): the pool
  is ``num_hidden_layers`` deep with the first attention block's KV heads
  (``get_total_num_kv_heads``), so the no-op attention blocks hold K/V rows too.

DeepSeek-V4's compressed pools: ``sglang_dsv4.py``.

Hybrid state models (Mamba-2, gated DeltaNet, short conv) add SGLang's Mamba pool beside the full layers' token
pool: ``sglang_mamba.py``. Other state layers (KDA, Mamba-1, lightning) and shared-KV
layers use pools not modelled here: asking for them is a ``ValueError``.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..specs import FullAttentionSpec, MLASpec, ModelSpec, SlidingWindowSpec, StateSpec
from . import sglang_mamba
from .sglang_dsv4 import pool as dsv4_pool
from .sglang_flags import nsa_flags, trtllm_mla_flags

SGLANG_VERSION = "SGLang 001ccef0 (profile_max_num_token, memory_pool.py, swa_memory_pool.py)"
KV_CACHE_DTYPES = ("auto", "fp8_e5m2", "fp8_e4m3", "bfloat16")
LOG_STYLES = ("current", "legacy", "v0.4")
GB = 1024 ** 3
SWA_FULL_TOKENS_RATIO = 0.8  # server_args.py default of --swa-full-tokens-ratio
# configs/model_config.py is_hybrid_swa_model, by the config's model_type (Gemma 4 added later)
HYBRID_SWA_TYPES = frozenset({"gpt_oss", "llama4", "llama4_text", "mimo_v2_flash", "step3p5",
                              "gemma4", "gemma4_text"})
_AUTO = {"bf16": (2, "torch.bfloat16"), "fp16": (2, "torch.float16"), "fp32": (4, "torch.float32")}
_FP8 = {"fp8_e5m2": "torch.float8_e5m2", "fp8_e4m3": "torch.float8_e4m3fn"}


@dataclass(frozen=True)
class SglangBuffers:
    """One ``MHATokenToKVPool`` / ``MLATokenToKVPool``: ``layers`` K and V buffers of
    ``tokens + page_size`` rows, each row ``k_width`` (``v_width``) elements of ``item`` bytes."""

    tokens: int
    layers: int
    k_width: int   # elements per token per layer: heads per rank × head_dim (MLA: the latent)
    v_width: int   # 0 for MLA
    item: int
    page_size: int
    index_layers: int = 0  # DSA: layers with an index_k_with_scale_buffer
    index_row: int = 0     # DSA: bytes per token of that buffer (132)

    @property
    def k_bytes(self) -> int:
        return self.layers * (self.tokens + self.page_size) * self.k_width * self.item

    @property
    def v_bytes(self) -> int:
        return self.layers * (self.tokens + self.page_size) * self.v_width * self.item

    @property
    def index_bytes(self) -> int:
        pages = (self.tokens + self.page_size + 1) // self.page_size
        return self.index_layers * pages * self.page_size * self.index_row

    @property
    def token_bytes(self) -> int:
        """Bytes one token takes over this pool's layers."""
        return self.layers * (self.k_width + self.v_width) * self.item + self.index_layers * self.index_row

    def log_line(self, dtype_name: str, style: str = "current") -> str:
        if style == "v0.4":  # builds before #tokens was printed (v0.4.1, January 2025)
            if self.v_width == 0 or self.index_layers:
                raise ValueError("log-style: v0.4 lines are read for MHA pools only")
            return (f"KV Cache is allocated. K size: {self.k_bytes / GB:.2f} GB, "
                    f"V size: {self.v_bytes / GB:.2f} GB.")
        head = "KV Cache is allocated. " + (f"dtype: {dtype_name}, " if style == "current" else "")
        if self.v_width == 0:
            return f"{head}#tokens: {self.tokens}, KV size: {(self.k_bytes + self.index_bytes) / GB:.2f} GB"
        return (f"{head}#tokens: {self.tokens}, K size: {self.k_bytes / GB:.2f} GB, "
                f"V size: {self.v_bytes / GB:.2f} GB")


@dataclass(frozen=True)
class SglangPool:
    model: str
    tokens: int            # #tokens of the full-attention pool (max_total_num_tokens)
    page_size: int
    mla: bool
    cell_size: int         # bytes of one token over all layers (K + V, or the latent)
    dtype_name: str        # the torch dtype SGLang prints
    buffers: tuple[SglangBuffers, ...]  # in the order SGLang builds them (SWA pool first)
    swa_tokens: int | None = None       # hybrid SWA models: the SWA layers' pool size
    window: int | None = None           # hybrid SWA models: the sliding window
    config_lines: tuple[str, ...] = ()  # what server_args logs when it changes flags (DSA)
    mamba: sglang_mamba.MambaState | None = None  # hybrid state models: one slot's state
    mamba_size: int = 0                 # their max_mamba_cache_size (slots, + 1 padded)

    @property
    def mamba_bytes(self) -> int:
        """The MambaPool: max_mamba_cache_size + 1 slots."""
        return (self.mamba_size + 1) * self.mamba.per_req if self.mamba else 0

    def request_bytes(self, context: int) -> int:
        """Bytes one request of ``context`` tokens holds: every token in the full pool and, with
        a SWA pool, only the last ``window`` there (SGLang frees SWA slots behind the window);
        with a Mamba pool, the 3 state slots SGLang sets aside per running request."""
        if self.mamba:
            return (self.buffers[0].token_bytes * context
                    + sglang_mamba.RUNNING_RATIO * self.mamba.per_req)
        if self.swa_tokens is None:
            return self.buffers[0].token_bytes * context
        swa, full = self.buffers
        return full.token_bytes * context + swa.token_bytes * min(context, self.window or context)

    def max_requests(self, context: int) -> float:
        """Requests of ``context`` tokens the pools hold at once (the scarcer pool decides; a
        Mamba pool runs at most max_mamba_cache_size // 3 requests, ``init_memory``)."""
        if self.mamba:
            return min(self.tokens / context, self.mamba_size // sglang_mamba.RUNNING_RATIO)
        if self.swa_tokens is None:
            return self.tokens / context
        return min(self.tokens / context, self.swa_tokens / min(context, self.window or context))

    @property
    def k_bytes(self) -> int:
        return sum(b.k_bytes for b in self.buffers)

    @property
    def v_bytes(self) -> int:
        return sum(b.v_bytes for b in self.buffers)

    @property
    def index_bytes(self) -> int:
        return sum(b.index_bytes for b in self.buffers)

    @property
    def total_bytes(self) -> int:
        return self.k_bytes + self.v_bytes + self.index_bytes + self.mamba_bytes

    def log_lines(self, style: str = "current", *, config: bool = True) -> list[str]:
        """The pool's lines; first, with ``config``, what server_args logged (DSA flags)."""
        if style not in LOG_STYLES:
            raise ValueError(f"log-style: one of {', '.join(LOG_STYLES)}, got {style!r}")
        lines = [b.log_line(self.dtype_name, style) for b in self.buffers]
        if self.mamba:
            if style == "v0.4":
                raise ValueError("log-style: v0.4 lines are read for plain pools only, not the "
                                 "Mamba pool")
            lines = [self.mamba.log_line(self.mamba_size), *lines]
        if self.swa_tokens is None:
            return [*(self.config_lines if config else ()), *lines]
        if style == "v0.4":
            raise ValueError("log-style: v0.4 lines are read for plain pools only, not SWA pools")
        split = (f"Use sliding window memory pool. full_layer_tokens={self.tokens}, "
                 f"swa_layer_tokens={self.swa_tokens}")
        usage = (f"SWAKVPool mem usage: {self.total_bytes / GB:.2f} GB, swa size: {self.swa_tokens}, "
                 f"full size: {self.tokens}")
        return [split, *lines] + ([usage] if style == "current" else [])

    def log_line(self, style: str = "current", *, config: bool = True) -> str:
        return "\n".join(self.log_lines(style, config=config))


@dataclass(frozen=True)
class _Geometry:
    layers: int
    k_width: int
    v_width: int


def _element(model: ModelSpec, kv_cache_dtype: str) -> tuple[int, str]:
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise ValueError(f"kv-cache-dtype: SGLang has {', '.join(KV_CACHE_DTYPES)}, got {kv_cache_dtype!r}")
    if kv_cache_dtype == "bfloat16":  # what DSA's auto becomes on Hopper (server_args.py)
        return 2, "torch.bfloat16"
    if kv_cache_dtype != "auto":
        return 1, _FP8[kv_cache_dtype]
    if model.dtype not in _AUTO:
        raise ValueError(f"kv-cache-dtype: auto needs a float model dtype, not {model.dtype}")
    return _AUTO[model.dtype]


def _heads(spec: FullAttentionSpec, tp: int) -> int:
    return max(1, spec.num_kv_heads // tp)  # model_config.get_num_kv_heads


def _geometry(model: ModelSpec, tp: int) -> tuple[bool, _Geometry, _Geometry | None]:
    """(mla, full-layer geometry, SWA-layer geometry or None for one plain pool)."""
    specs = [g.spec for g in model.groups if not isinstance(g.spec, StateSpec)]
    if not all(isinstance(s, (FullAttentionSpec, MLASpec)) for s in specs):
        raise ValueError("engine sglang: hybrid state (Mamba / linear attention) and shared-KV "
                         "layers use pools not modelled here; the theoretical or vllm engine sizes them")
    if any(isinstance(s, MLASpec) for s in specs):
        if any(s.window for s in specs):
            raise ValueError("engine sglang: MLA models with windowed layers are not modelled")
        s = specs[0]
        return True, _Geometry(model.num_layers, s.kv_lora_rank + s.qk_rope_head_dim, 0), None
    if model.num_attention_heads % tp:
        raise ValueError(f"tp: {model.num_attention_heads} attention heads are not divisible by "
                         f"tensor parallel size {tp}")

    def geometry(kind_specs: list[FullAttentionSpec], what: str) -> _Geometry:
        shapes = {(s.num_kv_heads, s.head_dim_k, s.head_dim_v) for s in kind_specs}
        if len(shapes) > 1:
            raise ValueError(f"engine sglang: {what} layers of different shapes are not modelled")
        s = kind_specs[0]
        n = sum(g.count for g in model.groups if g.spec in kind_specs)
        return _Geometry(n, _heads(s, tp) * s.head_dim_k, _heads(s, tp) * s.head_dim_v)

    sliding = [s for s in specs if isinstance(s, SlidingWindowSpec)]
    if sliding and model.model_type in HYBRID_SWA_TYPES:
        full = [s for s in specs if not isinstance(s, SlidingWindowSpec)]
        if not full:
            raise ValueError("engine sglang: a hybrid SWA model whose every layer is windowed "
                             "(SGLang's all-SWA pool) is not modelled")
        return False, geometry(full, "full-attention"), geometry(sliding, "SWA")
    # The plain pool: every layer, windowed or not, at one shape (MHATokenToKVPool passes
    # head_dim for V too, so a narrower V is not what it allocates).
    if model.model_type == "nemotron-nas":
        # configs/model_config.py get_total_num_kv_heads takes the first attention block's KV
        # heads, and the pool has num_hidden_layers layers: the no-op blocks' K/V rows are
        # allocated too (LlamaAttention indexes the pool by the block's layer_id).
        if len({(s.num_kv_heads, s.head_dim_k) for s in specs}) > 1:
            raise ValueError("engine sglang: Nemotron-NAS blocks with different KV heads "
                             "(variable GQA) get one pool width in SGLang; not modelled")
        s = specs[0]
        return False, _Geometry(model.blocks or model.num_layers, _heads(s, tp) * s.head_dim_k,
                                _heads(s, tp) * s.head_dim_v), None
    g = geometry(specs, "attention")
    if g.k_width != g.v_width:
        raise ValueError("engine sglang: K and V head dims differ outside the hybrid SWA pool; "
                         "not modelled")
    return False, g, None


def _index_layers(model: ModelSpec) -> tuple[int, int]:
    """(layers with a DSA indexer, bytes per token of each one's index buffer)."""
    rows = [(g.count, g.spec.indexer.row_bytes()) for g in model.groups
            if isinstance(g.spec, MLASpec) and g.spec.indexer]
    return sum(n for n, _ in rows), (rows[0][1] if rows else 0)


def pool(model: ModelSpec, *, tokens: int | None = None, kv_memory: int | None = None,
         page_size: int = 1, kv_cache_dtype: str = "auto", tp: int = 1,
         swa_full_tokens_ratio: float = SWA_FULL_TOKENS_RATIO, gpu: object = None,
         max_running_requests: int | None = None, device: str = "cuda",
         max_mamba_cache_size: int | None = None,
         mamba_full_memory_ratio: float = sglang_mamba.MAMBA_FULL_MEMORY_RATIO,
         requests: int = 1) -> SglangPool:
    """SGLang's pools for ``tokens`` (its #tokens, of the full layers when the model has a SWA
    pool), or for the ``kv_memory`` bytes left per GPU. ``gpu`` decides DSA models' KV dtype.
    DeepSeek-V4 gets ``sglang_dsv4.pool`` (an ``SglangV4Pool``; the page size is SGLang's 256;
    ``max_running_requests`` sizes its HCA state, and is read for V4 only; so is ``device`` npu,
    Ascend's page 128 and bfloat16 cache). Hybrid state models get a Mamba pool too:
    ``max_mamba_cache_size`` / ``mamba_full_memory_ratio`` as SGLang's flags; sized from
    ``tokens``, it holds 3 slots for each of ``requests``, which other pools ignore)."""
    if model.has_compressed:
        return dsv4_pool(model, tokens=tokens, kv_memory=kv_memory, kv_cache_dtype=kv_cache_dtype,
                         swa_full_tokens_ratio=swa_full_tokens_ratio,
                         max_running_requests=max_running_requests, device=device)
    if device != "cuda":
        raise ValueError("device: only DeepSeek-V4's SGLang pools are read for Ascend NPUs; "
                         "other models are sized as SGLang does on CUDA")
    if page_size < 1:
        raise ValueError("page-size: must be at least 1")
    if not 0 < swa_full_tokens_ratio <= 1:
        raise ValueError(f"swa-full-tokens-ratio: must be in (0, 1], got {swa_full_tokens_ratio}")
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise ValueError(f"kv-cache-dtype: SGLang has {', '.join(KV_CACHE_DTYPES)}, got {kv_cache_dtype!r}")
    page_size, kv_cache_dtype, config_lines = nsa_flags(model, page_size, kv_cache_dtype, gpu)
    page_size, trtllm_lines = trtllm_mla_flags(model, page_size, gpu)
    config_lines += trtllm_lines
    item, dtype_name = _element(model, kv_cache_dtype)
    mla, full, swa = _geometry(model, tp)
    per_token = [(g.k_width + g.v_width) * g.layers for g in (full, swa) if g is not None]
    index_layers, index_row = _index_layers(model)
    cell = sum(per_token) * item + index_layers * index_row  # get_cell_size_per_token
    if index_layers and item == 1:  # NSA fp8: 656-byte rows (fp8 nope + scales + bf16 rope)
        s = next(g.spec for g in model.groups if isinstance(g.spec, MLASpec))
        full = _Geometry(full.layers, s.kv_lora_rank + s.kv_lora_rank // 128 * 4 + s.qk_rope_head_dim * 2, 0)
    mamba = sglang_mamba.state(model, tp) if model.has_state else None
    if mamba is None and max_mamba_cache_size is not None:
        raise ValueError("max-mamba-cache-size: sizes the Mamba pool of hybrid state models only")
    if max_mamba_cache_size is not None and max_mamba_cache_size < 1:
        raise ValueError("max-mamba-cache-size: must be at least 1")
    if mamba is not None and swa is not None:
        raise ValueError("engine sglang: a hybrid SWA model with state layers is not modelled")
    mamba_size = 0
    if tokens is None:
        if kv_memory is None or kv_memory <= 0:
            raise ValueError("kv-memory: give the memory SGLang has for the pool")
        if mamba is not None:  # handle_max_mamba_cache first, then the token pool
            mamba_size, tokens = sglang_mamba.split(
                kv_memory, mamba.per_req, cell, max_mamba_cache_size=max_mamba_cache_size,
                ratio=mamba_full_memory_ratio)
            tokens = tokens // page_size * page_size
        else:
            tokens = kv_memory // cell // page_size * page_size
        if tokens <= 0:
            raise ValueError("kv-memory: not enough memory for one page of tokens; SGLang stops here")
        if swa is not None:
            tokens = _split_swa(tokens, full, swa, item, page_size, swa_full_tokens_ratio)
    elif tokens < 1:
        raise ValueError("tokens: must be at least 1")
    elif mamba is not None:  # pools that hold ``tokens``: 3 state slots per request
        if requests < 1:
            raise ValueError("requests: must be at least 1")
        mamba_size = max_mamba_cache_size or sglang_mamba.RUNNING_RATIO * requests

    def buffers(g: _Geometry, n: int, index: bool = False) -> SglangBuffers:
        return SglangBuffers(tokens=n, layers=g.layers, k_width=g.k_width, v_width=g.v_width,
                             item=item, page_size=page_size,
                             index_layers=index_layers if index else 0, index_row=index_row)

    if swa is None:
        return SglangPool(model=model.name, tokens=tokens, page_size=page_size, mla=mla,
                          cell_size=cell, dtype_name=dtype_name, config_lines=config_lines,
                          buffers=(buffers(full, tokens, index=True),), mamba=mamba,
                          mamba_size=mamba_size)
    swa_tokens = int(tokens * swa_full_tokens_ratio) // page_size * page_size
    if swa_tokens < 1:
        raise ValueError(f"swa-full-tokens-ratio: {swa_full_tokens_ratio:g} of {tokens:,} tokens "
                         "leaves the SWA pool without one page")
    window = min(g.spec.window for g in model.groups if isinstance(g.spec, SlidingWindowSpec))
    return SglangPool(model=model.name, tokens=tokens, page_size=page_size, mla=False,
                      cell_size=cell, dtype_name=dtype_name, swa_tokens=swa_tokens, window=window,
                      buffers=(buffers(swa, swa_tokens), buffers(full, tokens)))


def _split_swa(total: int, full: _Geometry, swa: _Geometry, item: int, page_size: int,
               ratio: float) -> int:
    """``set_num_tokens_hybrid_swa``: the full layers' token count from the profiled total, with
    SGLang's float arithmetic (the SWA count is ``int(full × ratio)``, page-aligned, in ``pool``)."""
    full_per_token = (full.k_width + full.v_width) * item
    swa_per_token = (swa.k_width + swa.v_width) * item
    total_memory = total * (full_per_token * full.layers + swa_per_token * swa.layers)
    denominator = full_per_token * full.layers + ratio * swa_per_token * swa.layers
    return int(total_memory / denominator) // page_size * page_size
