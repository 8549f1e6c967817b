"""SGLang's pools for hybrid state models: a ``MambaPool`` of per-request state slots beside the
full-attention layers' token pool (Mamba-2: NemotronH, Nemotron 3, Granite 4 hybrid; gated
DeltaNet: Qwen3-Next, Qwen3.5; short conv: LFM2).

Read at sgl-project/sglang 001ccef0, ``python/sglang/srt``:

- ``model_executor/model_runner_kv_cache_mixin.py`` · ``profile_max_num_token``: the token cell
  counts the full-attention layers only (``mambaish.full_attention_layer_ids``); the rest memory
  (GiB, a float) first goes through ``handle_max_mamba_cache``: ``--max-mamba-cache-size`` when
  given, else ``mamba_state_memory = rest · r / (1 + r)`` with r = ``--mamba-full-memory-ratio``
  (0.9) and ``max_mamba_cache_size = int(mamba_state_memory · 2³⁰ // mamba_cache_per_req)``; the
  pool then gets ``int((rest − size · per_req / 2³⁰) · 2³⁰) // cell`` tokens, rounded down to
  ``--page-size`` by ``init_memory``, which also caps the running requests at size // 3
  (``MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO`` with the radix cache and no extra buffer).
- ``configs/mamba_utils.py`` (read at 02e208de) · ``Mamba2StateShape.create``: conv state
  ``(conv_dim / tp, kernel − 1)`` with conv_dim = intermediate + 2 · n_groups · state_size, n_groups
  raised to tp when tp does not divide it; temporal state ``(heads / tp, head_dim, state_size)``
  (gated DeltaNet: intermediate = value heads × value dim, n_groups = key heads, state_size = key
  dim). ``mamba_cache_per_req`` = (conv elements · conv item + temporal elements · ssm item) ×
  state layers; ``mamba2_state_dtype``: conv bfloat16 (``SGLANG_MAMBA_CONV_DTYPE``), ssm float32
  unless the config (or its text_config) names ``mamba_ssm_dtype``.
- ``configs/lfm2.py`` (read at 05319dc0) · ``Lfm2Config.mamba2_cache_params``: LFM2's short conv
  layers (``linear_layer_ids``) go into the same pool as a ``Mamba2StateShape`` of intermediate =
  hidden, n_groups 1, num_heads = tp and state_size 0: a conv state of ``(hidden / tp,
  conv_L_cache − 1)`` in bfloat16 and an empty temporal state, so ``ssm_state size: 0.00GB``.
- ``mem_cache/memory_pool.py`` · ``MambaPool``: ``size + 1`` slots (slot 0 is the padded dummy),
  logged as ``Mamba Cache is allocated. max_mamba_cache_size: N, conv_state size: XGB,
  ssm_state size: YGB`` (GB = 2³⁰ bytes), before the full layers' ``KV Cache is allocated`` line.

Checked against public starts (``tests/test_sglang_mamba.py``). Both counts come out of one
memory figure for a Qwen3-Next-geometry start on one H200 (336 slots, conv 0.56 GB, ssm 23.70 GB,
1,178,614 BF16 tokens, 26.98 GB), an LFM2-700M start (85,292 slots, conv 4.88 GB, 473,854 BF16
tokens, K and V 2.71 GB each) and a Qwen3.5-397B-A17B start at TP 2 (82 slots, 0.13 / 7.29 GB,
580,364 tokens; ktransformers' SGLang backend). A Nemotron-3-Nano-geometry start at TP 4 (2211
slots, 0.44 / 24.84 GB, 19,644,177 fp8 tokens, K 14.05 GB) has its pools' sizes reproduced, but
it ran SGLang 0.5.21, whose split leaves 1,821 more tokens than 001ccef0's for those slots (not
read).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..hf_config import normalize
from ..specs import ModelSpec, StateSpec

MAMBA_FULL_MEMORY_RATIO = 0.9  # ServerArgs.mamba_full_memory_ratio
RUNNING_RATIO = 3              # MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO
CONV_ITEM = 2                  # SGLANG_MAMBA_CONV_DTYPE default: bfloat16
SSM_ITEMS = {"float32": 4, "bfloat16": 2, "float16": 2}
MECHANISMS = ("mamba2", "gated DeltaNet", "short conv")
GB = 1 << 30


@dataclass(frozen=True)
class MambaState:
    """One TP rank's state slot: every state layer's conv and temporal (ssm) state."""

    conv_bytes: int   # per slot, all state layers
    ssm_bytes: int

    @property
    def per_req(self) -> int:
        """``mamba_cache_per_req``."""
        return self.conv_bytes + self.ssm_bytes

    def log_line(self, size: int) -> str:
        slots = size + 1  # MambaPool: the padded slot 0
        return (f"Mamba Cache is allocated. max_mamba_cache_size: {size}, "
                f"conv_state size: {slots * self.conv_bytes / GB:.2f}GB, "
                f"ssm_state size: {slots * self.ssm_bytes / GB:.2f}GB")


def _ssm_item(model: ModelSpec) -> int:
    # normalize reads text_config where there is one, as mamba2_state_dtype does; an unknown
    # name is warned about and left at float32
    name = normalize(model.config or {}).get("mamba_ssm_dtype") or "float32"
    return SSM_ITEMS.get(name, 4)


def _divide(n: int, tp: int, what: str) -> int:
    if n % tp:
        raise ValueError(f"tp: SGLang splits the {what} ({n}) evenly over tensor parallel ranks; "
                         f"{tp} does not divide it")
    return n // tp


def state(model: ModelSpec, tp: int = 1) -> MambaState:
    """The per-request state SGLang keeps for ``model``'s state layers on one TP rank."""
    groups = [g for g in model.groups if isinstance(g.spec, StateSpec)]
    conv = ssm = 0
    item = _ssm_item(model)
    for g in groups:
        spec = g.spec
        shapes = 1 if spec.mechanism == "short conv" else 2
        if spec.mechanism not in MECHANISMS or len(spec.shapes) != shapes:
            raise ValueError(f"engine sglang: {spec.mechanism} state is not modelled for SGLang's "
                             "Mamba pool (Mamba-2, gated DeltaNet and short conv are); the "
                             "theoretical or vllm engine sizes it")
        if spec.mechanism == "short conv":  # Lfm2Config: (hidden / tp, L − 1) conv, no temporal
            (hidden, width), = spec.shapes
            conv += g.count * _divide(hidden, tp, "conv state") * width * CONV_ITEM
            continue
        (conv_dim, width), (heads, a, b) = spec.shapes
        # Mamba-2: (heads, head_dim, state); gated DeltaNet: (value heads, key dim, value dim)
        inner, state_size = (heads * a, b) if spec.mechanism == "mamba2" else (heads * b, a)
        n_groups = (conv_dim - inner) // (2 * state_size)
        if n_groups % tp:  # extra_groups_for_head_shards
            n_groups += tp - n_groups
        conv_dim = inner + 2 * n_groups * state_size
        conv += g.count * _divide(conv_dim, tp, "conv state") * width * CONV_ITEM
        ssm += g.count * _divide(heads, tp, "state heads") * a * b * item
    return MambaState(conv_bytes=conv, ssm_bytes=ssm)


class NoStateSlot(ValueError):
    """The pool memory holds not one Mamba state slot: SGLang stops at startup."""


def split(rest_bytes: int, per_req: int, cell: int, *,
          max_mamba_cache_size: int | None = None,
          ratio: float = MAMBA_FULL_MEMORY_RATIO) -> tuple[int, int]:
    """(max_mamba_cache_size, tokens before page rounding) for ``rest_bytes`` of pool memory,
    in ``handle_max_mamba_cache``'s float GiB arithmetic."""
    rest = rest_bytes / GB
    if max_mamba_cache_size is not None:
        size = max_mamba_cache_size
    else:
        if not ratio > 0:
            raise ValueError(f"mamba-full-memory-ratio: must be above 0, got {ratio}")
        size = int((rest * ratio / (1 + ratio)) * GB // per_req)
    if size < 1:
        raise NoStateSlot("kv-memory: not enough memory for one Mamba state slot; SGLang stops here")
    rest -= size * per_req / GB
    tokens = int(rest * GB) // cell
    return size, tokens
