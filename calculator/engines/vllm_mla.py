"""The attention backend vLLM runs an MLA model with on a known GPU, and the block size that
backend gives the KV cache, build by build (the pool itself is ``engines/vllm.py``'s)."""
from __future__ import annotations

from ..specs import MLASpec, ModelSpec

# builds that pick the MLA backend by priority and take its kernel block size
# (``Platform.update_block_size_for_backend``, vllm-project/vllm#35122 of 2026-03-09, v0.18 on)
MLA_BY_SELECTION = ("0.18", "0.20", "0.21", "0.22", "0.23", "0.27")
_FA_MLA_KV = ("auto", "float16", "bfloat16")       # FlashAttnMLABackend.supported_kv_cache_dtypes
_FP8_MLA_KV = _FA_MLA_KV + ("fp8", "fp8_e4m3")     # FlashInfer MLA, CUTLASS MLA, FlashMLA


def mla_block_size(model: ModelSpec, block_size: int, gpu: object, version: str = "0.11",
                   kv_cache_dtype: str = "auto") -> tuple[int, str | None]:
    """The block size vLLM gives an MLA model on a known GPU, and the line it logs.

    Builds "0.10" and "0.11" (``vllm/platforms/cuda.py`` · ``CudaPlatformBase.
    check_and_update_config`` at v0.11.0): with no attention backend chosen, compute capability
    10.0 uses CUTLASS MLA and a block size not a multiple of 128 becomes 128; where FlashMLA's
    dense kernel runs (``is_flashmla_dense_supported``: capability 9.x) a block size not a
    multiple of 64 becomes 64; DeepSeek sparse attention (``index_topk``) always gets 64. (v0.13
    - v0.16 moved Blackwell on: 10.3 joined 10.0 with #30484, FlashInfer MLA replaced CUTLASS with
    #32615; the "0.11" build keeps v0.11.0's rule.)

    "0.17" (v0.17.x, the same function before #35122): Blackwell (10.x) takes FlashInfer MLA when
    ``qk_nope_head_dim`` is 128 (#32614), whose block must be 32 or a multiple of 64 (else 64),
    otherwise CUTLASS MLA (a multiple of 128); Hopper FlashMLA as before.

    From "0.18" (``MLA_BY_SELECTION``; read at upstream 811d80519): the backend is the first valid
    one of ``_get_backend_priorities`` and, unless the user gave ``--block-size``, the block is its
    preferred kernel size (``AttentionBackend.get_preferred_block_size``: 16 when supported, else
    the smallest it takes), logged as "Setting kv cache block size to N for BACKEND backend." when
    not 16 (``Platform.update_block_size_for_backend``). Hopper: FLASH_ATTN_MLA (multiples of 16;
    KV auto/float16/bfloat16), with an fp8 KV FLASHMLA (64); Blackwell: FLASHINFER_MLA (32 or 64)
    when ``qk_nope_head_dim`` is 64, 128 or 192, else CUTLASS_MLA (128); other GPUs TRITON_MLA
    (16); a DSA model's first attention layer is its indexer cache (DEEPSEEK_V32_INDEXER, 64).
    Other GPUs, a custom size (no known architecture) and non-MLA models keep the block size
    given. A public B200 start of April 2026 logged "Setting kv cache block size to 32 for
    FLASHINFER_MLA backend." (find_string id 56923016547)."""
    from ..gpus import architecture_of
    spec = architecture_of(gpu)
    if spec is None or not spec.sm or not any(isinstance(g.spec, MLASpec) for g in model.groups):
        return block_size, None
    cfg = model.config or {}
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    sparse = text.get("index_topk") is not None or model.has_indexer
    nope = text.get("qk_nope_head_dim", 1)
    major = spec.sm // 10
    if version in MLA_BY_SELECTION:
        if block_size != 16:  # --block-size given: phase 1 skipped, the backend takes it
            return block_size, None
        if sparse:
            backend, size = "DEEPSEEK_V32_INDEXER", 64
        elif major == 10 and nope in (64, 128, 192) and kv_cache_dtype in _FP8_MLA_KV:
            backend, size = "FLASHINFER_MLA", 32
        elif major == 10 and kv_cache_dtype in _FP8_MLA_KV:
            backend, size = "CUTLASS_MLA", 128
        elif major == 9 and kv_cache_dtype in _FA_MLA_KV:
            backend, size = "FLASH_ATTN_MLA", 16
        elif major == 9 and kv_cache_dtype in _FP8_MLA_KV:
            backend, size = "FLASHMLA", 64
        else:
            backend, size = "TRITON_MLA", 16
        line = f"Setting kv cache block size to {size} for {backend} backend."
        return size, (line if size != 16 else None)
    lines = []  # the checks run in this order, each on the block size the one before left
    if version == "0.17" and major == 10 and not sparse and nope == 128:
        if block_size != 32 and block_size % 64:
            block_size = 64
            lines.append("Forcing kv cache block size to 64 for FlashInferMLA backend.")
    elif (spec.sm == 100 if version != "0.17" else major == 10 and not sparse) \
            and block_size % 128:
        block_size = 128
        lines.append("Forcing kv cache block size to 128 for CUTLASS_MLA backend.")
    elif major == 9 and block_size % 64:
        block_size = 64
        lines.append("Forcing kv cache block size to 64 for FlashMLA backend.")
    if sparse and block_size != 64:
        block_size = 64
        lines.append("Forcing kv cache block size to 64 for FlashMLASparse backend.")
    return block_size, "\n".join(lines) or None
