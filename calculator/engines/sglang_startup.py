"""SGLang startup memory: the memory its token pool gets once ``--mem-fraction-static`` is known
(given, or derived as ``engines/sglang_fraction.py`` reads each build's default).

- ``get_device_memory_capacity``: ``gpu_mem`` is the smallest ``nvidia-smi`` memory.total of the
  visible GPUs in MiB, which picks the default fraction, chunked prefill size and CUDA-graph batch
  ceiling (``sglang_fraction.gpu_defaults``, ``default_mem_fraction``).
- ``model_executor/model_runner.py`` · ``init_torch_distributed`` returns the free memory (GiB,
  the smallest over the TP ranks) after the CUDA context and NCCL exist: SGLang prints it as
  "Load weight begin. avail mem=X GB". ``load_model`` prints "Load weight end. ... avail mem=Y GB,
  mem usage=Z GB" once the weights are on the GPU (v0.4 builds: "Load weight end. type=…,
  dtype=torch.bfloat16, avail mem=Y GB" without "mem usage").
- ``model_executor/model_runner_kv_cache_mixin.py`` · ``_profile_available_bytes`` (unchanged on
  main, late 2026): ``rest_memory = avail_after_weights − pre_model_load_memory × (1 −
  mem_fraction_static)``; the pool holds ``int(rest_memory × 2³⁰) // cell_size`` tokens
  (``engines/sglang.py`` builds it).

MLA models (DeepSeek-V2/V3, Kimi-K2) hold one more copy of ``kv_b_proj`` per layer once loaded:
``models/deepseek_common/deepseek_weight_loader.py`` · ``post_load_weights`` (sgl-project/sglang
@29bd4e85; the same code sat in ``deepseek_v2.py`` in the v0.4 and v0.5 builds) splits it into
``w_kc`` and ``w_vc`` with ``.contiguous()`` copies and keeps ``kv_b_proj`` for the prefill path.
The copies are in the model dtype for an unquantized ``kv_b_proj``, in bf16 where it is
dequantized first (FP8 in 128 × 128 blocks on CUDA, AWQ, INT8), and in FP8 where other FP8 layouts
are requantized per tensor (``block_quant_to_tensor_quant``, ``channel_quant_to_tensor_quant``):
``heads/tp × (qk_nope + v_head) × kv_lora_rank`` elements per layer (``mla_copies``). They are on
the GPU at "Load weight end", so they are part of "mem usage".

The rope cos/sin caches are built with the model too, in float32 on CUDA (``rope_bytes``), so
they are part of "mem usage" as well.

So the pool gets ``free_at_start × mem_fraction_static − mem usage``. The free memory at start is
the driver's total less the process's CUDA context, which depends on the driver, not on the model:
it is taken from what SGLang and vLLM print on the same card (``CUDA_CONTEXT``), and ``--non-torch``
overrides it. "mem usage" is measured as free memory, so besides the checkpoint's TP share (as
``calculator.model.sharding`` cuts it) it holds what grows outside PyTorch while loading (kernel
modules, NCCL and all-reduce buffers with TP): the same growth vLLM prints as non-torch memory on
the same kind of setup while its snapshot still predated NCCL, taken from
``vllm_startup.NON_TORCH["0.10"]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..gpus import GIB, MIB, GpuSpec, load_oom, not_cuda
from ..hf_config import normalize
from .sglang_fraction import (VERSIONS, default_mem_fraction, gpu_defaults, is_multimodal,
                              prefill_graph_reserve, tp_mem_fraction, vision_tower, vlm_factor)

SGLANG_STARTUP_VERSION = ("SGLang main, late 2026 (arg_groups/memory_hook.py "
                          "handle_gpu_memory_settings); v0.5 and v0.4 rules on request")
__all__ = ["VERSIONS", "SglangStartup", "default_mem_fraction", "gpu_defaults", "predict",
           "tp_mem_fraction"]
_DTYPES = {"bf16": "torch.bfloat16", "fp16": "torch.float16", "fp32": "torch.float32"}
# architectures whose SGLang class builds no vision tower unless --enable-multimodal:
# models/mllama4.py · Llama4ForConditionalGeneration (has_vision = the checkpoint's vision weights
# and enable_multimodal; the tower and projector are None and their weights skipped otherwise)
TOWER_UNBUILT = frozenset({"Llama4ForConditionalGeneration"})
CUDA_CONTEXT = (
    round(0.45 * GIB),
    "free memory at start 23.08 GiB of 23.53 GiB on RTX 4090s: SGLang 'Load weight end ... avail "
    "mem=16.00 GB, mem usage=7.08 GB' (Qwen3-14B TP 4, id 55529353766) and vLLM 'Free memory on "
    "device (23.08/23.53 GiB)' (id 34681159919)")


@dataclass(frozen=True, kw_only=True)
class SglangStartup:
    """One GPU's memory at SGLang startup."""

    gpu: str
    gpu_total: int
    context: int              # CUDA context + NCCL before the weights (not SGLang's to use)
    context_source: str
    mem_fraction_static: Fraction
    fraction_given: bool
    chunked_prefill_size: int
    cuda_graph_max_bs: int
    weights: int
    load_growth: int = 0      # memory outside PyTorch that appears while loading
    mla_copies: int = 0       # w_kc / w_vc copies of kv_b_proj (MLA), part of ``weights``
    rope_cache: int = 0       # the cos/sin caches get_rope builds, part of ``weights``
    architecture: str = ""
    version: str = VERSIONS[-1]
    dtype_name: str = "torch.bfloat16"
    # how a derived fraction came about: the rounded default before any multimodal cut, the cut
    # (None when none), and main's prefill CUDA-graph reserve with its reason
    derived_fraction: Fraction | None = None
    vlm_cut: float | None = None
    prefill_graph_mib: float = 0.0
    prefill_graph_why: str = ""

    @property
    def free_at_start(self) -> int:
        return self.gpu_total - self.context

    @property
    def reserved(self) -> int:
        """``total_gpu_memory × (1 − mem_fraction_static)``: activations and CUDA graphs."""
        return int(self.free_at_start * (1 - self.mem_fraction_static))

    @property
    def mem_usage(self) -> int:
        """SGLang's "mem usage" at "Load weight end": the weights and the growth beside them."""
        return self.weights + self.load_growth

    @property
    def available(self) -> int:
        """Bytes for the token pool: free after the weights, less the reserved share."""
        return self.free_at_start - self.mem_usage - self.reserved

    def breakdown(self) -> dict[str, int]:
        return {"gpu_total_bytes": self.gpu_total, "weight_bytes_per_gpu": self.weights,
                "activation_bytes": self.reserved,
                "non_torch_bytes": self.context + self.load_growth,
                "cudagraph_bytes": 0, "kv_memory_bytes": self.available}

    def log_lines(self) -> list[str]:
        """The lines SGLang prints; weights larger than the card fail after "Load weight begin"."""
        after = self.free_at_start - self.mem_usage
        begin = f"Load weight begin. avail mem={self.free_at_start / GIB:.2f} GB"
        if oom := load_oom(self.weights, self.gpu_total, log=True):
            return [begin, oom]
        if self.version == "0.4":
            return [begin, f"Load weight end. type={self.architecture or 'model'}, dtype="
                           f"{self.dtype_name}, avail mem={after / GIB:.2f} GB"]
        return [begin, f"Load weight end. type={self.architecture or 'model'}, avail mem="
                       f"{after / GIB:.2f} GB, mem usage={self.mem_usage / GIB:.2f} GB."]


def predict(model, gpu: GpuSpec | tuple[str, int, int | None], *, tp: int = 1, pp: int = 1,
            mem_fraction_static: object = None, chunked_prefill_size: int | None = None,
            cuda_graph_max_bs: int | None = None, context: int | None = None,
            version: str = VERSIONS[-1]) -> SglangStartup:
    """SGLang's startup memory on one GPU of ``tp`` for ``model`` (its weights priced from
    config.json). ``gpu``: a catalogue entry or (name, driver total bytes, nvidia-smi MiB);
    ``version``: one of ``VERSIONS`` ("main", the default; "0.5": PR #10975's rule; "0.4": the
    fraction from the TP size), which decides the default fraction only."""
    if version not in VERSIONS:
        raise ValueError(f"engine-version: SGLang rules are read for {', '.join(VERSIONS)}, got "
                         f"{version!r}")
    from ..capacity import weights_per_gpu
    from .vllm_startup import non_torch_default
    if model.has_compressed:
        raise ValueError("engine sglang: DeepSeek-V4's startup is not modelled (the FP4/FP8 "
                         "weights each GPU loads and what the dsv4 backend reserves are not "
                         "read); give the memory SGLang has (--kv-memory, or the Engines "
                         "page's one figure for every engine) and its V4 pools are sized from it")
    if model.has_indexer and version != "main":
        # server_args.py of the 0.5 line turns on --enable-dp-attention (dp = tp) for DeepSeek
        # NSA: attention weights are then whole on every GPU, which the TP sharding here does not
        # price. sgl-project/sglang#16305 (January 2026) dropped that: main runs it with TP
        # attention ("DSA with TP mode is active ... attention weights will be sharded").
        raise ValueError(f"engine sglang: SGLang {version} runs DeepSeek NSA with DP attention "
                         "(attention weights whole on every GPU), whose startup memory is not "
                         "modelled; the main build (TP attention, sgl-project/sglang#16305) is, "
                         "or its pool is sized from a given KV memory per GPU")
    if isinstance(gpu, GpuSpec):
        name, total, smi, nvlink = gpu.name, gpu.total_bytes, gpu.smi_mib, gpu.nvlink
        cuda = gpu.sm != 0          # the catalogue's AMD cards carry no CUDA capability
    else:
        (name, total, smi), nvlink, cuda = gpu, False, True
    chunk_d, graphs_d = gpu_defaults(smi or total // MIB, tp, version)
    chunk = chunk_d if chunked_prefill_size is None else chunked_prefill_size
    graphs = graphs_d if cuda_graph_max_bs is None else cuda_graph_max_bs
    config = model.config or {}
    multimodal = is_multimodal(config) and vision_tower(config) is not None
    prefill_mib, prefill_why = 0.0, ""
    if version == "main":
        kda = any(getattr(g.spec, "mechanism", "") == "KDA" for g in model.groups)
        prefill_mib, prefill_why = prefill_graph_reserve(
            config, mla=model.attention == "MLA", chunk=chunk, pp=pp, kda=kda,
            dsv4=model.has_compressed, model_path=model.name, cuda=cuda)
    given = mem_fraction_static is not None
    derived, cut = None, None
    if given:
        try:
            frac = Fraction(str(mem_fraction_static))
        except (ValueError, ZeroDivisionError):
            raise ValueError("mem-fraction-static: expected a fraction such as 0.88, got "
                             f"{mem_fraction_static!r}") from None
        if not 0 < frac < 1:
            raise ValueError(f"mem-fraction-static: must be in (0, 1), got {mem_fraction_static}")
    elif version == "0.4":
        if multimodal:
            raise ValueError("engine-version: SGLang v0.4 builds cut a multimodal model's "
                             "mem_fraction_static in model_runner.py by 0.95 or 0.90 depending "
                             "on the release, which is not modelled; pick 0.5 or main, or give "
                             "the fraction (--mem-util)")
        frac = tp_mem_fraction(tp)
    else:
        if smi is None:
            raise ValueError(f"gpu: nvidia-smi's memory.total for {name} is not in the catalogue, "
                             "and SGLang's default fraction needs it; give --mem-fraction-static "
                             "(the CLI's --mem-util)")
        frac = derived = default_mem_fraction(smi, tp, pp, chunk, graphs, version=version,
                                              prefill_graph_mib=prefill_mib)
        if multimodal:  # adjust_mem_fraction_for_vlm: float arithmetic, not rounded again
            cut = vlm_factor(*vision_tower(config))
            frac = Fraction(repr(float(derived) * cut))
    archs = (model.config or {}).get("architectures") or [""]
    text_only = isinstance(archs, list) and bool(archs) and archs[0] in TOWER_UNBUILT
    weights = weights_per_gpu(model, tp, pp, vision=not text_only)
    if weights is None:
        raise ValueError(model.weights_error or "weights: unknown for this model; SGLang's "
                         "startup memory needs them")
    copies = mla_copies(model, tp, pp)
    rope = rope_bytes(model, rocm=not_cuda(gpu))
    weights += copies + rope
    ctx, source = CUDA_CONTEXT if context is None else (context, "given (--non-torch)")
    return SglangStartup(gpu=name, gpu_total=total, context=ctx, context_source=source,
                         mem_fraction_static=frac, fraction_given=given,
                         chunked_prefill_size=chunk, cuda_graph_max_bs=graphs, weights=weights,
                         load_growth=non_torch_default(tp, nvlink)[0], mla_copies=copies,
                         rope_cache=rope,
                         architecture=str(archs[0]) if isinstance(archs, list) and archs else "",
                         version=version, dtype_name=_DTYPES.get(model.dtype, model.dtype),
                         derived_fraction=derived, vlm_cut=cut, prefill_graph_mib=prefill_mib,
                         prefill_graph_why=prefill_why)


def rope_bytes(model, rocm: bool = False) -> int:
    """The cos/sin caches SGLang builds with the model, as many and as wide as vLLM's
    (``rope_caches.rope_caches``: one per distinct rope, over ``max_position_embeddings``, YaRN
    and DeepSeek scaling over original × factor). ``layers/rotary_embedding.py`` ·
    ``RotaryEmbedding.__init__`` keeps them in float32 on CUDA ("cache needs to be in FP32 for
    numerical stability", since sgl-project/sglang#3134 of January 2025, in v0.4.2; builds before
    held the model dtype) and casts them to the model dtype elsewhere (ROCm). They exist before
    "Load weight end", so they are part of "mem usage": Llama-4-Scout's 10,485,760 positions × 128
    × 4 B are 5 GiB on every GPU."""
    from .rope_caches import rope_caches
    if model.config is None:
        return 0
    cfg = normalize(model.config)
    mla = cfg.get("kv_lora_rank") is not None
    try:
        caches = rope_caches(cfg, str(cfg.get("model_type") or ""), mla, item=None if rocm else 4)
    except ValueError:
        return 0
    return sum(b for _, b in caches)


def mla_copies(model, tp: int = 1, pp: int = 1) -> int:
    """Bytes of the ``w_kc`` / ``w_vc`` copies SGLang makes of each MLA layer's ``kv_b_proj`` on one
    GPU (0 for other models), on the pipeline stage with the most of them."""
    from ..hf_config import normalize
    from ..model.quant import checkpoint
    from ..model.sharding import sharded_params, stage_params
    from ..model.stored import MODEL_ST, ST_BITS
    from ..totals import pp_stages
    config = model.config or {}
    if normalize(config).get("kv_lora_rank") is None:
        return 0
    block = (config.get("quantization_config") or {}).get("weight_block_size")
    params = sharded_params(config, tp)
    stages = [params] if pp == 1 else stage_params(
        params, pp_stages(model.num_layers - model.mtp_counted, pp))
    best = 0
    for stage in stages:
        ck = checkpoint(config, stage)
        total = 0
        for param, stored in ck.stored_dtypes("kv_b_proj.weight").values():
            if stored == {MODEL_ST[ck.model_dtype]}:      # unquantized: copies of the weight
                item = ST_BITS[MODEL_ST[ck.model_dtype]] // 8
            elif any(d.startswith("F8") for d in stored) and list(block or ()) != [128, 128]:
                item = 1                                  # requantized per tensor, FP8 copies
            else:
                item = 2                                  # dequantized to bf16 first
            total += param.count * math.prod(param.shape) * item
        best = max(best, total)
    return best
