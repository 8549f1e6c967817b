"""What SGLang's server_args change for MLA models before the pool is sized: DeepSeek NSA's page
size and KV dtype, and the trtllm_mla backend's page on compute capability 10, with the lines it
logs (``engines/sglang.py`` builds the pool on them)."""
from __future__ import annotations

from ..specs import MLASpec, ModelSpec


def nsa_flags(model: ModelSpec, page_size: int, kv_cache_dtype: str,
              gpu: object = None) -> tuple[int, str, tuple[str, ...]]:
    """server_args.py for DeepSeek NSA models: page size 64, and ``auto`` KV becomes bfloat16
    (Hopper and older) or fp8_e4m3 (capability 10 and up); the lines it logs. A GPU that is not
    in the catalogue is taken as Hopper."""
    if not model.has_indexer:
        return page_size, kv_cache_dtype, ()
    from ..gpus import architecture_of
    spec = architecture_of(gpu)
    lines = ["Setting page size to 64 for DeepSeek NSA."]
    if kv_cache_dtype == "auto":
        blackwell = spec is not None and spec.sm >= 100
        kv_cache_dtype = "fp8_e4m3" if blackwell else "bfloat16"
        lines.append(f"Setting KV cache dtype to {kv_cache_dtype} for DeepSeek NSA.")
    if kv_cache_dtype not in ("bfloat16", "fp8_e4m3"):
        raise ValueError(f"kv-cache-dtype: DeepSeek NSA only supports bfloat16 or fp8_e4m3, got "
                         f"{kv_cache_dtype}")
    return 64, kv_cache_dtype, tuple(lines)


# server_args.py · _handle_model_specific_adjustments: the architectures SGLang runs as DeepSeek
# V3/R1/V3.1 (DeepseekV3ForCausalLM alone on the 0.5 line; Kimi-K2.5 and Mistral Large 3 on main)
TRTLLM_MLA_ARCHS = ("DeepseekV3ForCausalLM", "KimiK25ForConditionalGeneration",
                    "MistralLarge3ForCausalLM", "PixtralForConditionalGeneration")


def trtllm_mla_flags(model: ModelSpec, page_size: int,
                     gpu: object = None) -> tuple[int, tuple[str, ...]]:
    """server_args.py for DeepSeek V3/R1/V3.1-style MLA models (not NSA) on compute capability 10
    (``is_sm100_supported``: B200, B300, GB200) with no attention backend given:
    ``_handle_model_specific_adjustments`` picks ``trtllm_mla``, and
    ``_handle_attention_backend_compatibility`` turns a page size other than 32 or 64 into 64
    (read in server_args.py of the 0.5 line, late 2025, and in main's ``arg_groups`` hooks);
    the lines it logs. Hopper and other GPUs keep the page size (FlashAttention 3 / FlashInfer
    take 1)."""
    from ..gpus import architecture_of
    archs = (model.config or {}).get("architectures") or []
    arch = archs[0] if isinstance(archs, list) and archs else ""
    spec = architecture_of(gpu)
    if (model.has_indexer or arch not in TRTLLM_MLA_ARCHS or spec is None or spec.sm // 10 != 10
            or not any(isinstance(g.spec, MLASpec) for g in model.groups)):
        return page_size, ()
    lines = ["Use trtllm_mla as attention backend on sm100 for DeepseekV3ForCausalLM"]
    if page_size not in (32, 64):
        lines.append("TensorRT-LLM MLA only supports page_size of 32 or 64, changing page_size "
                     f"from {page_size} to 64.")
        page_size = 64
    return page_size, tuple(lines)
