"""SGLang's default ``--mem-fraction-static``, build by build: the card bands that pick the chunked
prefill size and the CUDA-graph batch ceiling, the memory reserved beside the static pool, the
prefill CUDA graphs' share of it, and the cut made for multimodal models.

Three rules, each read from SGLang's source (``VERSIONS``; the newest is the default):

- ``"0.4"`` (v0.4.x to early v0.5, ``ServerArgs.__post_init__``): 0.79 from TP 16, 0.81 from TP 8,
  0.85 from TP 4, 0.87 from TP 2, else 0.88 (the same 0.88 at TP 1 as on the v0.3 line: an
  MI300X ``bench_latency`` run of October 2024 sized its pool with it). Builds of that line cut
  the fraction of multimodal models in ``model_runner.py`` by 0.95 or 0.90 depending on the
  release, which is not modelled.
- ``"0.5"`` (PR #10975, late 2025 to February 2026, ``ServerArgs._handle_gpu_memory_settings``):
  ``reserved = 512 + max(chunked_prefill_size, 2048) × 1.5 + cuda_graph_max_bs × 2 + tp × pp / 8 ×
  1024`` MiB, at least 10 GiB on cards above 60 GiB, and ``round((gpu_mem − reserved) / gpu_mem,
  3)``; ``gpu_mem`` is nvidia-smi's memory.total in MiB.
- ``"main"`` (read at sgl-project/sglang main, late 2026: ``arg_groups/memory_hook.py`` ·
  ``handle_gpu_memory_settings`` and ``reserve_for_graph_mb`` @ a82da8da, ``arg_groups/
  cuda_graph_hook.py`` @ 019667ad, ``model_executor/cuda_graph_config.py`` @ 08d6c016,
  ``arg_groups/pipeline.py`` @ 0070eada): cards under 35 GiB prefill 4096 tokens per chunk and
  capture decode graphs to batch 48 (160 from TP 4); prefill runs under a CUDA graph too (the
  breakable backend, the CUDA default since the piecewise graph became default in March 2026,
  PR #16331), and its capture reserves ``len(prefill batch sizes) × 8`` MiB (1.5 GiB with an MLA
  backend) inside the same sum, before the 10 GiB floor. ``cuda_graph_hook.py`` turns the prefill
  graph off, before the fraction is derived, for pipeline parallelism, KDA, DeepSeek-V4 and
  multimodal models off its allowlists; on ROCm the default prefill backend is tc_piecewise,
  which it turns off on non-CUDA hardware, so AMD cards reserve nothing for it.

Multimodal models (``"0.5"`` and ``"main"``, only when the fraction is derived): ``mem_fraction_static
× 0.95 × clamp(1 − 0.1 × (L·H² / (24·1024²) − 1), 0.8, 1.05)`` with L, H the vision tower's layers
and width (``adjust_mem_fraction_for_vlm``), not rounded again. SGLang switches multimodality off by
default for Gemma 3, Llama 4 and Step3-VL (``ModelConfig``, ``mm_disabled_models``), so those keep
the plain fraction; a public Gemma-3-12B start on two RTX 4090s printed ``mem_fraction_static=0.717``,
the unadjusted figure (sgl-project/sglang#12496).
"""
from __future__ import annotations

from fractions import Fraction

VERSIONS = ("0.4", "0.5", "main")
MAX_PREFILL_TOKENS = 16384  # server_args default of --max-prefill-tokens (chunked prefill off)

# model_config.py: architectures SGLang serves as multimodal (the list of early 2026, with the
# archs the main branch adds), and those it serves text-only unless --enable-multimodal
MM_DISABLED = frozenset({"Gemma3ForConditionalGeneration", "Llama4ForConditionalGeneration",
                         "Step3VLForConditionalGeneration"})
MM_ARCHS = frozenset({
    "CLIPModel", "DeepseekVL2ForCausalLM", "Ernie4_5_VLMoeForConditionalGeneration",
    "Gemma3ForConditionalGeneration", "Gemma3nForConditionalGeneration",
    "Gemma4ForConditionalGeneration", "Glm4vForConditionalGeneration",
    "Glm4vMoeForConditionalGeneration", "GlmOcrForConditionalGeneration",
    "GlmAsrForConditionalGeneration", "Grok1VForCausalLM", "Grok1AForCausalLM",
    "LlavaLlamaForCausalLM", "Llama4ForConditionalGeneration", "LlavaMistralForCausalLM",
    "LlavaQwenForCausalLM", "LlavaForConditionalGeneration", "LlavaVidForCausalLM",
    "LightOnOCRForConditionalGeneration", "MiniCPMO", "MiniCPMV",
    "Mistral3ForConditionalGeneration", "MultiModalityCausalLM", "MllamaForConditionalGeneration",
    "NemotronH_Nano_VL_V2", "PixtralForConditionalGeneration",
    "Qwen2AudioForConditionalGeneration", "Qwen2VLForConditionalGeneration",
    "Qwen2_5_VLForConditionalGeneration", "Qwen3VLForConditionalGeneration",
    "Qwen3VLMoeForConditionalGeneration", "Qwen3OmniMoeForConditionalGeneration",
    "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
    "KimiVLForConditionalGeneration", "KimiK25ForConditionalGeneration", "InternVLChatModel",
    "InternS1ForConditionalGeneration", "Phi4MMForCausalLM", "Step3VLForConditionalGeneration",
    "POINTSV15ChatModel", "DotsVLMForCausalLM", "DotsOCRForCausalLM",
    "Sarashina2VisionForCausalLM", "NVILAForConditionalGeneration",
    "NVILALiteForConditionalGeneration", "DeepseekOCRForCausalLM", "JetVLMForConditionalGeneration",
    "PaddleOCRVLForConditionalGeneration", "MiDashengLMModel", "StepVLForConditionalGeneration"})
# main: multimodal archs whose language-model prefill runs under the breakable graph, and those
# moved to the torch.compile piecewise graph instead (model_config.py allowlists)
BREAKABLE_MM = frozenset({"Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
                          "Qwen3VLForConditionalGeneration", "Qwen3VLMoeForConditionalGeneration"})
PIECEWISE_MM = frozenset({"Cohere2VisionForConditionalGeneration", "KimiK25ForConditionalGeneration",
                          "MiniMaxM3SparseForCausalLM", "MiniMaxM3SparseForConditionalGeneration"})
# The vision tower's (layers, width) when config.json leaves them out: the defaults of the config
# class SGLang builds (transformers 5.23; Kimi-K2.5: SGLang's own KimiK25VisionConfig, which
# ignores the vt_* keys), keyed by the top-level model_type; True where the class reads the layer
# count from ``depth`` (its attribute_map)
VISION_DEFAULTS = {
    "gemma3": (12, 768, False), "gemma4": (16, 768, False), "llama4": (34, 768, False),
    "mistral3": (24, 1024, False), "kimi_k25": (27, 1152, False), "mllama": (32, 1280, False),
    "qwen2_vl": (32, 3584, True), "qwen2_5_vl": (32, 3584, True), "qwen3_vl": (27, 1152, True),
    "qwen3_vl_moe": (27, 1152, True), "qwen3_5": (27, 1152, True), "qwen3_5_moe": (27, 1152, True),
    "glm4v": (24, 1536, True), "glm4v_moe": (24, 1536, True)}


def tp_mem_fraction(tp: int) -> Fraction:
    """``mem_fraction_static`` by TP size alone (server_args.py before PR #10975)."""
    for at_least, frac in ((16, "0.79"), (8, "0.81"), (4, "0.85"), (2, "0.87")):
        if tp >= at_least:
            return Fraction(frac)
    return Fraction("0.88")


def gpu_defaults(gpu_mem_mib: int, tp: int = 1, version: str = VERSIONS[-1]) -> tuple[int, int]:
    """(chunked_prefill_size, decode cuda_graph_max_bs) the build picks for the card."""
    if gpu_mem_mib < 20 * 1024:
        return 2048, 8
    if gpu_mem_mib < 35 * 1024:
        if version == "main":
            return 4096, 48 if tp < 4 else 160
        return 2048, 24 if tp < 4 else 80
    if gpu_mem_mib < 60 * 1024:
        return 4096, 32 if tp < 4 else 160
    if gpu_mem_mib < 160 * 1024:
        return 8192, 256 if tp < 4 else 512
    return 16384, 512


def prefill_graph_sizes(max_bs: int) -> list[int]:
    """``generate_prefill_cuda_graph_batch_sizes``: the token counts prefill graphs capture."""
    ladder = [*range(4, 33, 4), *range(48, 257, 16), *range(288, 513, 32), *range(576, 1025, 64),
              *range(1280, 4097, 256), *range(4608, max_bs + 1, 512)]
    return [s for s in ladder if s <= max_bs]


def is_multimodal(config: dict | None) -> bool:
    """Whether SGLang serves the checkpoint as multimodal by default (``ModelConfig``)."""
    archs = (config or {}).get("architectures") or []
    if not isinstance(archs, list) or not archs or archs[0] in MM_DISABLED:
        return False
    return any(a in MM_ARCHS for a in archs) or isinstance((config or {}).get("text_config"), dict)


def vision_tower(config: dict) -> tuple[int, int] | None:
    """(layers, width) of the vision tower as ``adjust_mem_fraction_for_vlm`` reads them, or None
    without a vision_config (then no cut is made)."""
    vision = config.get("vision_config")
    if not isinstance(vision, dict):
        return None
    layers, width, from_depth = VISION_DEFAULTS.get(config.get("model_type"), (24, 1024, False))
    key = "depth" if from_depth else "num_hidden_layers"
    if config.get("model_type") != "kimi_k25":
        layers = vision.get(key, layers)
        width = vision.get("hidden_size", width)
    return int(layers), int(width)


def vlm_factor(layers: int, width: int) -> float:
    """``adjust_mem_fraction_for_vlm``'s multiplier, in SGLang's float arithmetic."""
    ratio = layers * width ** 2 / (24 * 1024 ** 2)
    return 0.95 * max(0.8, min(1.05, 1.0 - 0.1 * (ratio - 1.0)))


def prefill_graph_reserve(config: dict | None, *, mla: bool, chunk: int, pp: int = 1,
                          kda: bool = False, dsv4: bool = False, model_path: str = "",
                          cuda: bool = True) -> tuple[float, str]:
    """main: MiB ``reserve_for_graph_mb`` adds for the prefill CUDA graph, and why (or why none).
    The graph's largest size is the chunk (``handle_gpu_memory_settings``; 4096 when the model
    path names Llama 2). ``cuda``: False on ROCm, whose default prefill backend (tc_piecewise,
    ``cuda_graph_config.py`` · ``default_prefill_backend`` @ 08d6c016) ``cuda_graph_hook.py`` ·
    ``disable_tc_piecewise_cudagraph_if_incompatible`` turns off on non-CUDA hardware."""
    archs = (config or {}).get("architectures") or [""]
    arch = archs[0] if isinstance(archs, list) and archs else ""
    if not cuda:
        return 0.0, "no prefill graph: off by default on ROCm (tc_piecewise is CUDA-only)"
    if pp > 1:
        return 0.0, "no prefill graph: off by default with pipeline parallelism"
    if kda or dsv4:
        return 0.0, f"no prefill graph: off by default for {'KDA' if kda else 'DeepSeek-V4'}"
    if is_multimodal(config) and arch not in BREAKABLE_MM and arch not in PIECEWISE_MM:
        return 0.0, "no prefill graph: off by default for this multimodal model"
    if mla:
        return 1536.0, "prefill graph: 1.5 GiB with an MLA backend"
    sizes = prefill_graph_sizes(min(chunk, 4096) if "llama-2" in model_path.lower() else chunk)
    return len(sizes) * 8.0, f"prefill graph: {len(sizes)} sizes × 8 MiB"


def default_mem_fraction(gpu_mem_mib: int, tp: int = 1, pp: int = 1,
                         chunked_prefill_size: int | None = None,
                         cuda_graph_max_bs: int | None = None, *, version: str = VERSIONS[-1],
                         prefill_graph_mib: float = 0.0) -> Fraction:
    """``mem_fraction_static`` when not given (before any multimodal cut):
    ``round((gpu_mem − reserved) / gpu_mem, 3)``; ``prefill_graph_mib`` (main) from
    ``prefill_graph_reserve``."""
    if gpu_mem_mib < 1:
        raise ValueError("gpu: SGLang's default needs the card's memory")
    if version == "0.4":
        return tp_mem_fraction(tp)
    chunk, graphs = gpu_defaults(gpu_mem_mib, tp, version)
    chunk = chunk if chunked_prefill_size is None else chunked_prefill_size
    graphs = graphs if cuda_graph_max_bs is None else cuda_graph_max_bs
    # reserved_mem in MiB, in SGLang's float arithmetic (chunked prefill off: max_prefill_tokens)
    reserved = 512 + max(chunk if chunk > 0 else MAX_PREFILL_TOKENS, 2048) * 1.5 + graphs * 2
    reserved += tp * pp / 8 * 1024
    if version == "main":
        reserved += prefill_graph_mib
    if gpu_mem_mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return Fraction(str(round((gpu_mem_mib - reserved) / gpu_mem_mib, 3)))
