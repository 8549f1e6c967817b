"""SGLang startup memory: ``--mem-fraction-static``'s default, and the memory its token pool gets.

Read at sgl-project/sglang v0.5.x (late 2025; the heuristic arrived with PR #10975):

- ``server_args.py`` · ``ServerArgs._handle_gpu_memory_settings(gpu_mem)``, where ``gpu_mem`` is
  the smallest ``nvidia-smi`` memory.total of the visible GPUs in MiB
  (``get_device_memory_capacity``): below 20 GiB chunked prefill 2048 and CUDA graphs up to batch
  8; below 35 GiB 2048 and 24 (80 from TP 4); below 60 GiB 4096 and 32 (160 from TP 4); below
  160 GiB 8192 and 256 (512 from TP 4); above, 16384 and 512. Then ``reserved_mem = 512 +
  max(chunked_prefill_size, 2048) × 1.5 + cuda_graph_max_bs × 2 + tp × pp / 8 × 1024`` MiB (DP
  attention and speculative decoding add more), at least 10 GiB on cards above 60 GiB, and
  ``mem_fraction_static = round((gpu_mem − reserved_mem) / gpu_mem, 3)``.
- ``model_executor/model_runner.py`` · ``init_torch_distributed`` returns the free memory (GiB,
  the smallest over the TP ranks) after the CUDA context and NCCL exist: SGLang prints it as
  "Load weight begin. avail mem=X GB". ``load_model`` prints "Load weight end. ... avail mem=Y GB,
  mem usage=Z GB" once the weights are on the GPU.
- ``model_executor/model_runner_kv_cache_mixin.py`` · ``profile_max_num_token``: ``rest_memory =
  avail_after_weights − total_gpu_memory × (1 − mem_fraction_static)``; the pool holds
  ``int(rest_memory × 2³⁰) // cell_size`` tokens (``engines/sglang.py`` builds it).

Builds before PR #10975 (``version="0.4"``: v0.4.x to early v0.5, read at the v0.4 line of
``server_args.py`` ``ServerArgs.__post_init__``) default ``mem_fraction_static`` from the TP size
alone: 0.79 from TP 16, 0.81 from TP 8, 0.85 from TP 4, 0.87 from TP 2, else 0.88; they print
"Load weight end. type=…, dtype=torch.bfloat16, avail mem=Y GB" without "mem usage".

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

from dataclasses import dataclass
from fractions import Fraction

from ..gpus import GIB, MIB, GpuSpec

MAX_PREFILL_TOKENS = 16384  # server_args.py default of --max-prefill-tokens
SGLANG_STARTUP_VERSION = "SGLang v0.5.x (server_args.py _handle_gpu_memory_settings, PR #10975)"
VERSIONS = ("0.4", "0.5")  # the rule before PR #10975, and after; the newest is the default
_DTYPES = {"bf16": "torch.bfloat16", "fp16": "torch.float16", "fp32": "torch.float32"}


def tp_mem_fraction(tp: int) -> Fraction:
    """``mem_fraction_static`` by TP size alone (server_args.py before PR #10975)."""
    for at_least, frac in ((16, "0.79"), (8, "0.81"), (4, "0.85"), (2, "0.87")):
        if tp >= at_least:
            return Fraction(frac)
    return Fraction("0.88")
CUDA_CONTEXT = (
    round(0.45 * GIB),
    "free memory at start 23.08 GiB of 23.53 GiB on RTX 4090s: SGLang 'Load weight end ... avail "
    "mem=16.00 GB, mem usage=7.08 GB' (Qwen3-14B TP 4, id 55529353766) and vLLM 'Free memory on "
    "device (23.08/23.53 GiB)' (id 34681159919)")


def gpu_defaults(gpu_mem_mib: int, tp: int = 1) -> tuple[int, int]:
    """(chunked_prefill_size, cuda_graph_max_bs) ``_handle_gpu_memory_settings`` picks."""
    if gpu_mem_mib < 20 * 1024:
        return 2048, 8
    if gpu_mem_mib < 35 * 1024:
        return 2048, 24 if tp < 4 else 80
    if gpu_mem_mib < 60 * 1024:
        return 4096, 32 if tp < 4 else 160
    if gpu_mem_mib < 160 * 1024:
        return 8192, 256 if tp < 4 else 512
    return 16384, 512


def default_mem_fraction(gpu_mem_mib: int, tp: int = 1, pp: int = 1,
                         chunked_prefill_size: int | None = None,
                         cuda_graph_max_bs: int | None = None) -> Fraction:
    """``mem_fraction_static`` when not given: ``round((gpu_mem − reserved) / gpu_mem, 3)``."""
    if gpu_mem_mib < 1:
        raise ValueError("gpu: SGLang's default needs the card's memory")
    chunk, graphs = gpu_defaults(gpu_mem_mib, tp)
    chunk = chunk if chunked_prefill_size is None else chunked_prefill_size
    graphs = graphs if cuda_graph_max_bs is None else cuda_graph_max_bs
    # reserved_mem in MiB, in SGLang's float arithmetic (chunked prefill off: max_prefill_tokens)
    reserved = 512 + max(chunk if chunk > 0 else MAX_PREFILL_TOKENS, 2048) * 1.5 + graphs * 2
    reserved += tp * pp / 8 * 1024
    if gpu_mem_mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return Fraction(str(round((gpu_mem_mib - reserved) / gpu_mem_mib, 3)))


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
    architecture: str = ""
    version: str = VERSIONS[-1]
    dtype_name: str = "torch.bfloat16"

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
        after = self.free_at_start - self.mem_usage
        begin = f"Load weight begin. avail mem={self.free_at_start / GIB:.2f} GB"
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
    ``version``: "0.5" (the default fraction from the card, PR #10975) or "0.4" (from TP)."""
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
    if model.has_indexer:
        # server_args.py turns on --enable-dp-attention (dp = tp) for DeepSeek NSA: attention
        # weights are then whole on every GPU, which the TP sharding here does not price
        raise ValueError("engine sglang: DeepSeek NSA runs with DP attention (attention weights "
                         "whole on every GPU), whose startup memory is not modelled; its pool is "
                         "sized from a given KV memory per GPU instead")
    if isinstance(gpu, GpuSpec):
        name, total, smi, nvlink = gpu.name, gpu.total_bytes, gpu.smi_mib, gpu.nvlink
    else:
        (name, total, smi), nvlink = gpu, False
    chunk_d, graphs_d = gpu_defaults(smi or total // MIB, tp)
    chunk = chunk_d if chunked_prefill_size is None else chunked_prefill_size
    graphs = graphs_d if cuda_graph_max_bs is None else cuda_graph_max_bs
    given = mem_fraction_static is not None
    if given:
        try:
            frac = Fraction(str(mem_fraction_static))
        except (ValueError, ZeroDivisionError):
            raise ValueError("mem-fraction-static: expected a fraction such as 0.88, got "
                             f"{mem_fraction_static!r}") from None
        if not 0 < frac < 1:
            raise ValueError(f"mem-fraction-static: must be in (0, 1), got {mem_fraction_static}")
    elif version == "0.4":
        frac = tp_mem_fraction(tp)
    else:
        if smi is None:
            raise ValueError(f"gpu: nvidia-smi's memory.total for {name} is not in the catalogue, "
                             "and SGLang's default fraction needs it; give --mem-fraction-static "
                             "(the CLI's --mem-util)")
        frac = default_mem_fraction(smi, tp, pp, chunk, graphs)
    weights = weights_per_gpu(model, tp, pp)
    if weights is None:
        raise ValueError("weights: unknown for this model; SGLang's startup memory needs them")
    ctx, source = CUDA_CONTEXT if context is None else (context, "given (--non-torch)")
    archs = (model.config or {}).get("architectures") or [""]
    return SglangStartup(gpu=name, gpu_total=total, context=ctx, context_source=source,
                         mem_fraction_static=frac, fraction_given=given,
                         chunked_prefill_size=chunk, cuda_graph_max_bs=graphs, weights=weights,
                         load_growth=non_torch_default(tp, nvlink)[0],
                         architecture=str(archs[0]) if isinstance(archs, list) and archs else "",
                         version=version, dtype_name=_DTYPES.get(model.dtype, model.dtype))
