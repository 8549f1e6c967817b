"""vLLM engine mode: the KV-cache pool vLLM (V1 engine) builds, and the lines it logs.

Rules reproduced, read at vllm-project/vllm main @ 001cabc1 (2026):

- ``vllm/v1/kv_cache_interface.py``: ``FullAttentionSpec.real_page_size_bytes`` (block_size ×
  kv_heads × (head_size + head_size_v) × dtype bytes), ``MLAAttentionSpec.real_page_size_bytes``
  (one latent: block_size × (kv_lora_rank + rope) × dtype bytes; ``fp8_ds_mla``: block_size ×
  656), ``FullAttentionSpec.max_memory_usage_bytes`` (cdiv(max_model_len, block_size) pages),
  ``SlidingWindowSpec.max_admission_blocks_per_request`` (cdiv(min(window − 1 +
  max_num_batched_tokens, max_model_len), block_size) + 1 pages).
- ``vllm/v1/core/kv_cache_utils.py``: ``get_kv_cache_groups`` (one group when every layer has
  the same spec; ``UniformTypeKVCacheSpecs`` when all are full attention of different sizes;
  otherwise ``unify_kv_cache_spec_page_size`` then ``_get_kv_cache_groups_uniform_page_size``:
  group size = the fewest layers of one type, or the most when most < 1.5 × fewest, last group
  of a type padded), ``get_num_blocks`` (available // page_size // group_size),
  ``_report_kv_cache_config`` (tokens = num_blocks // groups × block_size) and
  ``get_max_concurrency_for_kv_cache_config`` (num_blocks / cdiv(per-request bytes, block bytes)).
- KV heads per rank: ``ModelConfig.get_num_kv_heads`` = max(1, kv_heads // tp); MLA latents are
  replicated on every rank.

Hybrid models with linear-attention / SSM state layers (Qwen3-Next's gated DeltaNet, Jamba's
mamba), as vLLM 0.10.2 sizes them (``vllm/model_executor/models/config.py``,
``HybridAttentionMambaModelConfig.verify_and_update_config``; ``vllm/v1/kv_cache_interface.py``,
``MambaSpec``): a state layer's page is one request's whole state (``sum(prod(shape) × dtype
bytes)``, shapes split over TP, in the model dtype); the attention block size becomes
``16 × cdiv(mamba page, 16 × attention bytes per token)`` (or the user's, if larger), the mamba page
is padded to the attention page, and each state layer takes one page per request
(``MambaSpec.max_memory_usage_bytes``; its block size is max_model_len). Newer vLLM moved the same
rule to ``Platform.update_block_size_for_backend`` with the backend's kernel block size for 16.
LFM2's short conv is one state tensor (``vllm/model_executor/layers/mamba/mamba_utils.py``,
``MambaStateShapeCalculator.short_conv_state_shape``: (hidden / tp, conv_L_cache − 1), in the
model dtype by ``short_conv_state_dtype``; read at main @ 02d71083).
MLA + state models and lightning-attention state are refused with a ``ValueError``.

Pool rules by release (``version``): "0.10" and "0.11" are the rules above (read at 0.11 and at
main @ 001cabc1; vllm-project/vllm#40691 shows them still in 0.19.0); "0.17" (v0.17) and "0.18"
(v0.18 – v0.19) have the same pools, but from "0.18" an MLA model's block size is its attention
backend's (``mla_block_size``). "0.20", "0.21" and "0.22" (read at upstream 811d80519 of 2026-05-28) have them
too; from "0.21" ``GPU KV cache size`` is ``int(max_concurrency × max_model_len)`` (e68fa1b90,
vllm-project/vllm#41069 of 2026-04-28, just after the v0.20 branch: a public v0.20.0 start still
printed 36 blocks × 2096 = 75,456 tokens beside 14.70x), state layers included: hybrid
models keep prefix caching off by default (``ModelConfig.is_prefix_caching_supported``: "hybrid"
→ False), so ``MambaModelConfig.verify_and_update_config`` leaves ``mamba_cache_mode`` at "none"
and ``mamba_block_size`` at max_model_len, and ``MambaSpec.max_memory_usage_bytes`` is one page;
``Platform._align_hybrid_block_size`` (``platforms/interface.py``, moved there by #35122) sizes the
attention block as ``grain × cdiv(mamba page, grain × attention bytes per token)`` with grain =
``max(min kernel block of the backend, block_size)``: 16 on every CUDA backend (FlashAttention,
FlashInfer, Triton) at the default block size, the user's ``--block-size`` when larger
(vllm-project/vllm#37467, 2026-03-30). With ``--enable-prefix-caching`` (``prefix_caching``,
builds 0.17 – 0.22) the mode is 'align' for models without ``SupportsMambaPrefixCaching`` (gated
DeltaNet, short conv; #30877), where a request keeps two state pages
(``vllm_hybrid.align_mode``); the Mamba-2 family's 'all' mode is refused. "0.27" is what changed by
v0.27.1 (read from verbatim quotes of its ``config/vllm.py`` and ``v1/core/kv_cache_utils.py``;
checked on a public vLLM 0.29.0 log, ``tests/test_engine_vllm_pool_versions.py``):

- ``VllmConfig.max_in_flight_tokens`` = ``max_concurrent_batches × max_num_batched_tokens``
  replaces ``max_num_batched_tokens`` in ``SlidingWindowSpec.max_admission_blocks_per_request``
  (vllm-project/vllm#47728, "Free out-of-window blocks on the processed-token basis under async
  scheduling"); ``max_concurrent_batches`` is 2 under async scheduling (the default) at one
  pipeline stage, else 1.
- ``_report_kv_cache_config`` logs ``GPU KV cache size`` as ``int(max_concurrency ×
  max_model_len)`` (vllm-project/vllm#40694, for hybrid models, where ``num_blocks // groups ×
  block`` miscounted).

DeepSeek sparse attention (DeepSeek-V3.2, GLM-5; read at v0.11.0): every DSA layer registers a
second cache layer, ``DeepseekV32IndexerCache`` (``vllm/model_executor/models/deepseek_v2.py``),
whose ``get_kv_cache_spec`` is an ``MLAAttentionSpec`` of one head of ``index_head_dim +
index_head_dim // 128 × 4`` bytes (uint8: the fp8 key and its fp32 scale, 132 B), whatever the
KV dtype; both kinds of page are full attention, so they share one ``UniformTypeKVCacheSpecs``
group whose block is the sum of every layer's page. ``vllm/model_executor/models/config.py``
``DeepseekV32ForCausalLM.verify_and_update_config`` turns an fp8 KV dtype into ``fp8_ds_mla``
(656 B: 512 fp8 + 16 B of scales + 64 bf16 rope) and ``bfloat16`` into ``auto``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ..dsv4 import refuse_compressed
from ..specs import FullAttentionSpec, MLASpec, ModelSpec, SlidingWindowSpec, StateSpec
from .vllm_hybrid import HYBRID_AFTER_LOAD, HYBRID_USER_ALIGN, align_mode, hybrid_block
from .vllm_mla import MLA_BY_SELECTION, mla_block_size
from .vllm_spec import PageSpec, cdiv

VLLM_VERSION = "vLLM main @ 001cabc1"
BLOCK_SIZES = (1, 8, 16, 32, 64, 128, 256)  # CacheConfig.block_size: BlockSize literal
KV_CACHE_DTYPES = ("auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_ds_mla")
DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192  # `vllm serve` default on large GPUs (EngineArgs)
POOL_VERSIONS = ("0.10", "0.11", "0.17", "0.18", "0.20", "0.21", "0.22", "0.23", "0.27")  # rules read
BETWEEN = "0.23"  # v0.23 – v0.26: full attention and MLA only, where 0.22 and 0.27 agree
IN_FLIGHT_FROM = "0.27"                    # first one here with max_in_flight_tokens
TOKENS_FROM_CONCURRENCY = ("0.21", "0.22", "0.23", "0.27")  # 'GPU KV cache size' = conc. × len
DSA_BEFORE_011 = ("engine-version: vLLM 0.10 has no DeepSeek sparse attention (DeepSeek-V3.2 "
                  "and GLM-5 arrived in v0.11.0, vllm-project/vllm#25896); pick 0.11 or later")
# why vLLM's DeepSeek-V4 pools are refused: public 0.21-0.28 starts disagree with any one rule
V4_WHY = (" for vLLM's pools: how a request is charged for its window and compressor-state blocks "
          "changes from release to release (vllm#51041, #52495, #54703)")
_AUTO_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def rules_label(version: str) -> str:
    """How a table names the vLLM pool rules it was built with: the build the user picked (the
    0.10 and 0.11 rules are one reading, at 0.11 and at main @ 001cabc1)."""
    if version == IN_FLIGHT_FROM:
        return f"vLLM {version}+ pool rules"
    return f"vLLM {version} pool rules" if version in POOL_VERSIONS else VLLM_VERSION


@dataclass(frozen=True)
class VllmPlan:
    """The pool vLLM builds from ``kv_memory`` bytes per rank, and what it logs."""

    model: str
    version: str              # the release whose pool rules built it (POOL_VERSIONS)
    in_flight_tokens: int     # tokens a sliding layer keeps blocks for beyond its window
    groups: tuple[tuple[PageSpec, int], ...]   # (spec, layers in this group), one per KV group
    group_size: int           # layers per group = number of shared KV tensors
    page_size: int            # bytes of one block of one layer
    padding_layers: int
    max_model_len: int
    blocks_per_request: int   # blocks one request of max_model_len takes (all groups)
    kv_memory: int | None
    num_blocks: int | None
    num_tokens: int | None
    max_concurrency: float | None
    hybrid_lines: tuple[str, ...] = ()  # what vLLM logs when it resizes blocks for state layers
    config_lines: tuple[str, ...] = ()  # logged while the config is built, before loading (MLA block)
    cache_mode_lines: tuple[str, ...] = ()  # prefix caching's mamba cache mode, at config time
    backend_lines: tuple[str, ...] = ()  # the MLA backend's block size, logged after the load (0.18+)
    # one UniformTypeKVCacheSpecs group (different full-attention specs, e.g. DSA's latent and
    # indexer keys): its layers by spec, for a table to name them all
    uniform_kinds: tuple[tuple[PageSpec, int], ...] = ()

    @property
    def block_size(self) -> int:
        """Tokens per block as vLLM reports them (the smallest group's)."""
        return min(s.block_size for s, _ in self.groups)

    def request_bytes(self, batch: int = 1) -> int:
        """Bytes per rank that ``batch`` requests of max_model_len tokens take in vLLM's pool."""
        return batch * self.blocks_per_request * self.page_size * self.group_size

    def head_lines(self, startup: tuple | list = (), *, config: bool = True) -> list[str]:
        """What vLLM prints before its pool lines, in its order: the config-time lines (forced MLA
        block up to 0.17; left out with ``config=False``) and ``startup`` (the predicted memory
        profile), with the block lines ``Platform.update_block_size_for_backend`` prints once the
        executor has loaded the model (from 0.18, #35122: the MLA backend's block size, then the
        hybrid block) after "Model loading took"; up to 0.17 the hybrid lines come while the
        config is built (``HybridAttentionMambaModelConfig``)."""
        start, hybrid = list(startup), list(self.hybrid_lines)
        config_lines = list((*self.cache_mode_lines, *self.config_lines) if config else ())
        after = self.version in HYBRID_AFTER_LOAD
        before = config_lines if after else [*config_lines, *hybrid]
        loaded = [*self.backend_lines, *(hybrid if after else ())]
        at = next((i + 1 for i, line in enumerate(start)
                   if line.startswith("Model loading took")), 0)
        return [*before, *start[:at], *loaded, *start[at:]]

    def pool_lines(self) -> list[str]:
        """The two lines vLLM prints once the pool is sized."""
        if self.num_tokens is None or self.max_concurrency is None:
            raise ValueError("kv-memory: vLLM prints its log lines only for a given KV memory")
        return [f"GPU KV cache size: {self.num_tokens:,} tokens",
                f"Maximum concurrency for {self.max_model_len:,} tokens per request: "
                f"{self.max_concurrency:.2f}x"]

    def log_lines(self, startup: tuple | list = (), *, config: bool = True) -> list[str]:
        """The lines vLLM prints, in its order: ``head_lines`` then the pool's."""
        pool = self.pool_lines()
        return [*self.head_lines(startup, config=config), *pool]


def _window(model: ModelSpec, window: int) -> int:
    """The window vLLM gives a sliding layer. MiMo-V2-Flash: ``MiMoV2FlashDecoderLayer`` passes
    ``config.sliding_window_size`` (128) as ``per_layer_sliding_window``, one less than the
    129 tokens transformers and SGLang's reference attend to (models/mimo_v2_flash.py @ 01ed47b4)."""
    cfg = (model.config or {}).get("text_config") or model.config or {}
    if model.model_type == "mimo_v2_flash" and isinstance(cfg.get("sliding_window_size"), int):
        return cfg["sliding_window_size"]
    return window


def dsa_cache_dtype(model: ModelSpec, kv_cache_dtype: str) -> tuple[str, str | None]:
    """``DeepseekV32ForCausalLM.verify_and_update_config``: the KV dtype vLLM uses for a DSA
    model, and the line it logs when it changes it."""
    if not model.has_indexer:
        return kv_cache_dtype, None
    if kv_cache_dtype.startswith("fp8") and kv_cache_dtype != "fp8_ds_mla":
        return "fp8_ds_mla", "Using custom fp8 kv-cache format for DeepSeekV3.2"
    if kv_cache_dtype == "bfloat16":
        return "auto", "Using bfloat16 kv-cache for DeepSeekV3.2"
    return kv_cache_dtype, None


def layer_specs(model: ModelSpec, *, block_size: int = 16, kv_cache_dtype: str = "auto",
                tp: int = 1) -> list[PageSpec]:
    """Each layer's spec on one rank, in layer order (shared-KV layers own no cache); a DSA
    layer's indexer cache follows its layer."""
    refuse_compressed(model, "vllm", V4_WHY)
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"block-size: vLLM allows {', '.join(map(str, BLOCK_SIZES))}, got {block_size}")
    if kv_cache_dtype not in KV_CACHE_DTYPES:
        raise ValueError(f"kv-cache-dtype: vLLM has {', '.join(KV_CACHE_DTYPES)}, got {kv_cache_dtype!r}")
    if model.num_attention_heads % tp:
        raise ValueError(f"tp: {model.num_attention_heads} attention heads are not divisible by "
                         f"tensor parallel size {tp}")
    kv_cache_dtype, _ = dsa_cache_dtype(model, kv_cache_dtype)
    if kv_cache_dtype == "auto":
        if model.dtype not in _AUTO_BYTES:
            raise ValueError(f"kv-cache-dtype: auto needs a float model dtype, not {model.dtype}")
        item = _AUTO_BYTES[model.dtype]
    else:
        item = 1 if kv_cache_dtype.startswith("fp8") else 2
    out: list[PageSpec] = []
    for spec in model.layer_specs():
        if isinstance(spec, StateSpec):
            if spec.mechanism not in ("gated DeltaNet", "mamba", "mamba2", "short conv") or not spec.conv_kernel:
                raise ValueError(f"engine vllm: the {spec.mechanism} state is not modelled; the "
                                 "theoretical engine sizes it")
            if any(s[0] % tp for s in spec.shapes):
                raise ValueError(f"tp: the {spec.mechanism} state does not split over tensor "
                                 f"parallel size {tp}")
            out.append(PageSpec("mamba", 0, spec.state_bytes(tp)))
            continue
        if isinstance(spec, MLASpec):
            width = spec.kv_lora_rank + spec.qk_rope_head_dim
            token = 656 if kv_cache_dtype == "fp8_ds_mla" else width * item
            out.append(PageSpec("mla", block_size, token))
            if spec.indexer:
                out.append(PageSpec("indexer", block_size, spec.indexer.row_bytes()))
            continue
        if kv_cache_dtype == "fp8_ds_mla":
            raise ValueError("kv-cache-dtype: fp8_ds_mla is for MLA models only")
        if not isinstance(spec, FullAttentionSpec):
            continue  # shared-KV layers read another layer's cache
        kv = spec.num_kv_heads
        if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
            raise ValueError(f"tp: {kv} KV heads cannot be split over tensor parallel size {tp}")
        token = max(1, kv // tp) * (spec.head_dim_k + spec.head_dim_v) * item
        if isinstance(spec, SlidingWindowSpec):
            out.append(PageSpec("sliding", block_size, token, _window(model, spec.window)))
        else:
            out.append(PageSpec("full", block_size, token))
    if not any(s.kind != "mamba" for s in out):
        raise ValueError("engine vllm: the model has no attention layer with a KV cache")
    return out


def _groups(specs: list[PageSpec]) -> tuple[list[tuple[PageSpec, int]], int, int, int, bool]:
    """(groups, group_size, page_size, padding layers, uniform-type) as get_kv_cache_groups."""
    if len(set(specs)) == 1:
        return [(specs[0], len(specs))], len(specs), specs[0].page_size_bytes, 0, False
    if all(s.kind in ("full", "mla", "indexer") for s in specs):  # UniformTypeKVCacheSpecs: one group, summed page
        return [(specs[0], len(specs))], 1, sum(s.page_size_bytes for s in specs), 0, True
    top = max(s.page_size_bytes for s in specs)
    unified = []
    for s in specs:  # unify_kv_cache_spec_page_size: raise the block size of smaller pages
        if top % s.page_size_bytes:
            raise ValueError("engine vllm: layer page sizes do not divide; vLLM cannot unify them")
        unified.append(replace(s, block_size=s.block_size * (top // s.page_size_bytes)))
    by_type: dict[PageSpec, int] = {}
    for s in unified:
        by_type[s] = by_type.get(s, 0) + 1
    fewest, most = min(by_type.values()), max(by_type.values())
    group_size = most if most < fewest * 1.5 else fewest
    groups, padding = [], 0
    for s, n in by_type.items():
        k = cdiv(n, group_size)
        padding += k * group_size - n
        # layers[i::k]: group i holds ceil or floor of n / k layers
        groups += [(s, len(range(i, n, k))) for i in range(k)]
    return groups, group_size, top, padding, False


def plan(model: ModelSpec, *, max_model_len: int, kv_memory: int | None = None,
         block_size: int = 16, kv_cache_dtype: str = "auto", tp: int = 1,
         max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
         draft_layers: int = 0, gpu: object = None, version: str = "0.11",
         async_scheduling: bool = True, prefix_caching: bool = False) -> VllmPlan:
    """vLLM's KV-cache configuration for ``model`` (per rank), with ``kv_memory`` bytes free.

    ``draft_layers``: the attention layers of a speculative-decoding drafter (EAGLE / EAGLE-3:
    1; MTP: the model's next-n layers). vLLM registers them in the same KV-cache spec as the
    target (``v1/spec_decode/eagle.py`` · ``EagleProposer.load_model`` adds the draft's
    attention layers to the forward context; ``get_kv_cache_spec`` then sees them), each with
    the target's geometry, so they join the target's group.

    ``gpu``: a catalogue name or entry; MLA models then get the block size vLLM forces there
    (``mla_block_size``). ``version``: the release whose pool rules apply (``POOL_VERSIONS``);
    from 0.27 a sliding layer keeps blocks for ``max_in_flight_tokens`` (twice
    ``max_num_batched_tokens`` with ``async_scheduling``) and the token line is concurrency ×
    max_model_len."""
    if version not in POOL_VERSIONS:
        raise ValueError(f"engine-version: vLLM pool rules are read for {', '.join(POOL_VERSIONS)}"
                         f", got {version!r}")
    if version == "0.10" and model.has_indexer:
        raise ValueError(DSA_BEFORE_011)
    if max_model_len < 1:
        raise ValueError(f"context: max_model_len must be at least 1, got {max_model_len}")
    if max_num_batched_tokens < 1:
        raise ValueError("max-num-batched-tokens: must be at least 1")
    if kv_memory is not None and kv_memory <= 0:
        raise ValueError("kv-memory: no available memory for the cache blocks")
    block_size, forced = mla_block_size(model, block_size, gpu, version, kv_cache_dtype)
    backend_lines: tuple[str, ...] = ()
    if version in MLA_BY_SELECTION and forced:  # logged once the executor has the model
        backend_lines, forced = (forced,), None
    _, dsa_line = dsa_cache_dtype(model, kv_cache_dtype)
    if dsa_line:  # VllmConfig runs the model's verify_and_update_config before the platform's
        forced = dsa_line + ("\n" + forced if forced else "")
    specs = layer_specs(model, block_size=block_size, kv_cache_dtype=kv_cache_dtype, tp=tp)
    if isinstance(draft_layers, bool) or not isinstance(draft_layers, int) or not 0 <= draft_layers <= 64:
        raise ValueError(f"num-draft-layers: an integer from 0 to 64, got {draft_layers!r}")
    if draft_layers:  # a DSA draft layer brings its indexer cache too
        first = [next(s for s in specs if s.kind in ("full", "mla", "sliding"))]
        first += [s for s in specs if s.kind == "indexer"][:1]
        specs = specs + first * draft_layers
    hybrid_lines: tuple[str, ...] = ()
    new_rules = version == IN_FLIGHT_FROM
    if version == BETWEEN and any(s.kind in ("sliding", "mamba") for s in specs):
        raise ValueError("engine-version: vLLM v0.23 – v0.26 pools for sliding-window and state "
                         "layers are not read (they changed on the way to 0.27, #47728); their "
                         "full-attention and MLA pools are, the 0.22 and 0.27 rules agreeing there")
    if version == IN_FLIGHT_FROM and any(s.kind == "mamba" for s in specs):
        raise ValueError(f"engine-version: vLLM {version}'s pools for state layers (mamba, gated "
                         "DeltaNet, short conv) are not read; their rules are read for 0.10 – 0.22")
    mode_lines: tuple[str, ...] = ()
    if any(s.kind == "mamba" for s in specs):
        specs, hybrid_lines = hybrid_block(specs, block_size, max_model_len,
                                            user_aligns=version in HYBRID_USER_ALIGN)
        if prefix_caching:
            specs, mode_lines = align_mode(model, specs, version)
    groups, group_size, page, padding, uniform_type = _groups(specs)
    in_flight = max_num_batched_tokens * (2 if new_rules and async_scheduling else 1)
    if uniform_type:  # UniformTypeKVCacheSpecs.max_memory_usage_bytes: the longest layer's pages
        per_request = max(cdiv(s.max_memory_usage_bytes(max_model_len, in_flight),
                                s.page_size_bytes) for s in specs)
    else:
        usage = sum(s.max_memory_usage_bytes(max_model_len, in_flight) for s, _ in groups)
        per_request = cdiv(group_size * usage, page * group_size)
    num_blocks = num_tokens = concurrency = None
    if kv_memory is not None:
        num_blocks = kv_memory // page // group_size
        block = min(s.block_size for s, _ in groups)
        concurrency = num_blocks / per_request
        num_tokens = (int(concurrency * max_model_len) if version in TOKENS_FROM_CONCURRENCY
                      else num_blocks // len(groups) * block)
    return VllmPlan(model=model.name, version=version, in_flight_tokens=in_flight,
                    groups=tuple(groups), group_size=group_size, page_size=page,
                    padding_layers=padding, max_model_len=max_model_len,
                    blocks_per_request=per_request, kv_memory=kv_memory, num_blocks=num_blocks,
                    num_tokens=num_tokens, max_concurrency=concurrency, hybrid_lines=hybrid_lines,
                    config_lines=tuple(forced.split("\n")) if forced else (),
                    cache_mode_lines=mode_lines, backend_lines=backend_lines,
                    uniform_kinds=tuple(Counter(specs).items()) if uniform_type else ())
