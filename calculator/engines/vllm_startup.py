"""vLLM startup memory: what ``determine_available_memory`` leaves for the KV cache on one GPU.

Read at vLLM v0.10.2 (the rules hold through v0.11.x; "0.10" and "0.11" are the version choices):

- ``v1/worker/gpu_worker.py`` · ``init_device`` takes a ``MemorySnapshot`` before the distributed
  environment exists and sets ``requested_memory = total_memory × gpu_memory_utilization``
  (``total_memory`` from ``torch.cuda.mem_get_info``: the catalogue's driver total).
- ``determine_available_memory``: ``available = requested − non_kv_cache_memory`` with
  (``utils/__init__.py`` · ``memory_profiling``) ``non_kv = weights_memory +
  torch_peak_increase + non_torch_increase``; it logs ``Available KV cache memory: %.2f GiB`` and
  returns ``int(available)``. CUDA graphs are captured after the pool exists and are not
  deducted in this line (``gpu_worker.py:391`` only reports them afterwards).
- weights_memory is ``model_memory_usage``, the "Model loading took" figure
  (``engines/vllm_weights.py``).
- torch_peak_increase is the peak of ``gpu_model_runner.py`` · ``profile_run``: a dummy forward
  of ``max_num_batched_tokens`` tokens spread over ``min(max_num_seqs, tokens)`` requests, then a
  dummy top-k/top-p sampler over the last token of each request, sized in
  ``engines/vllm_profile.py`` (the sort, FlashInfer, the Triton mask from v0.17, the V2 runner).
- ``engine/arg_utils.py`` · ``EngineArgs._set_default_args``: on a GPU of 70 GiB or more whose
  name does not contain "a100", ``max_num_batched_tokens`` defaults to 16384 for the ``LLM``
  class and 8192 for ``vllm serve``, ``max_num_seqs`` to 1024; elsewhere 8192 / 2048 and 256;
  ``max_num_seqs`` is then capped at ``max_num_batched_tokens``. An engine built straight from
  ``EngineArgs`` / ``AsyncEngineArgs`` (``UsageContext.ENGINE_CONTEXT``, in neither table) gets
  ``SchedulerConfig``'s 2048 / 128 (``config/scheduler.py``; the same at 811d80519).

non_torch_increase is the growth of memory outside PyTorch from the snapshot to the end of
profiling: the CUDA kernels loaded while profiling and, with TP > 1, the NCCL buffers allocated
after the snapshot. Where that snapshot is taken is the one version rule here. Up to v0.10.x
``init_device`` takes it before ``init_worker_distributed_environment``, so NCCL's and the custom
all-reduce's buffers all count as non-torch. vllm-project/vllm#25359 (merged 2025-09-22, in v0.11.0)
moved the distributed init first ("Initialize the distributed environment BEFORE taking memory
snapshot"; ``gpu_worker.py`` · ``init_device`` at 35d5cda1), so from 0.11 only what NCCL allocates
lazily at the first collective is left in the term. The growth depends on the driver, NCCL and the
topology, not on the model, so it is taken from the figure vLLM itself prints (``non-torch forward
increase memory`` / ``for non-torch memory``) on public runs of each rule, cited in ``NON_TORCH``;
``--non-torch`` overrides it.

Newer builds, read in upstream history (vllm-project/vllm as carried by the 1CatAI/1Cat-vLLM
mirror) at 811d80519 of 2026-05-28, whose ``gpu_model_runner.py`` logger lines (5037, 5132, 6279,
6365) are those a public v0.22.0 start prints; release windows from the same lines in v0.16,
v0.17, v0.20 and v0.21 logs:

- "0.17" (v0.17) and "0.18" (v0.18 – v0.19, whose startup is the same; they differ in the MLA
  block size, ``vllm.mla_block_size``): vllm-project/vllm#33538 (2026-02-17) sends top-k/top-p over 8 or more
  rows to a Triton kernel that masks in place (``vllm_profile.sampler_peak_v017``): a much
  smaller profiling peak than the sort's. ``requested_memory`` is
  ``math.ceil(total × util)`` (``v1/worker/utils.py`` · ``request_memory``, from 2026-01-07).
  FlashInfer's sampler is off unless ``VLLM_USE_FLASHINFER_SAMPLER=1`` (#26859).
- "0.20", "0.21", "0.22" (one build each; the changes landed days apart around the branch
  points, dated in upstream history against the v0.20.0 and v0.22.0 starts they explain). From
  "0.20" ``determine_available_memory`` also deducts the CUDA-graph estimate
  (``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS`` on by default, #38284, which also raised
  ``CacheConfig.gpu_memory_utilization``'s default to 0.92): ``gpu_model_runner.py``
  · ``profile_cudagraph_memory`` captures the largest two graphs of each mode and reads
  ``torch.cuda.mem_get_info`` around them (first capture + (n − 1) × the second). That is a
  measurement of the driver's graph memory, not a function of the config, so it is not
  predicted: pass the figure vLLM prints ("Estimated CUDA graph memory"), or 0 with
  ``--enforce-eager`` / ``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0``; without it the KV memory
  is an upper bound by that much. On ROCm the estimate is skipped (0). A public v0.20.0 start
  (Qwen3.6-35B-A3B, "Estimated CUDA graph memory: 0.45 GiB total") already deducts it. From
  "0.21" (2026-04-29 to 05-01, after the v0.20 branch) the weights load with the allocator's
  ``max_split_size_mb`` at 20 (#41268), so each tensor of 20 MiB or more books its whole 2
  MiB-rounded segment (``vllm_weights.allocated_bytes``): a public v0.22.0 start of Qwen2.5-7B
  printed "Model loading took 14.29 GiB" where v0.18.0 printed 14.25; FlashInfer samples by
  default and a native pass follows (``vllm_profile``). In "0.22" only (#39337, 2026-05-14,
  after the v0.21 branch) dense unquantized ``Qwen3ForCausalLM`` runs on the V2 model runner
  (``config/vllm.py`` · ``use_v2_model_runner``), whose ``profile_cudagraph_memory`` returns 0
  and whose dummy batch samples greedily.

Multimodal checkpoints are predicted without their encoder's profiling pass. For a model that
takes images, audio or video, ``profile_run`` first runs the encoder on a dummy batch of the
largest items (``model.get_multimodal_embeddings``, ``embed_multimodal`` in later releases), keeps
the outputs in ``encoder_cache`` through the text forward and the sampler, and clears them only
then (``gpu_model_runner.py`` · ``profile_run``, same code v0.10.2 to v0.22). Its size needs each
model's processor (the tokens of its largest image, ``limit_mm_per_prompt``, the encoder budget),
which this reading does not have, so the predicted figure is an upper bound by the encoder's
peak or its cache, whichever sets the profile's peak. ``--skip-mm-profiling`` (``MultiModalConfig
.skip_mm_profiling``: "Skipping memory profiling for multimodal encoder and encoder cache") removes
the pass, and then the prediction is the whole profile again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from ..dsv4 import refuse_compressed
from ..hf_config import normalize
from ..model.shapes import VOCAB_DEFAULT, config_int
from ..gpus import GIB, GpuSpec, load_oom, not_cuda, sm_count
from .vllm import DSA_BEFORE_011, POOL_VERSIONS, V4_WHY
from .vllm_profile import TRITON_SAMPLER, forward_peak, sampler_bytes, sampler_words

VERSIONS = ("0.10", "0.11", "0.17", "0.18", "0.20", "0.21", "0.22")
# releases whose pool rules are read but not their startup: they need the logged KV memory
POOL_ONLY = tuple(v for v in POOL_VERSIONS if v not in VERSIONS)
# the default: the newest whose every term is predicted (0.22 needs the CUDA-graph estimate)
DEFAULT_VERSION = "0.18"
# --language-model-only: vllm-project/vllm#34120 (2026-02-09), on the tower-skipping contexts of
# #32605 (2026-01-20); both after the v0.11 – v0.16 line this calculator reads as "0.11"
LANGUAGE_ONLY_BEFORE = ("0.10", "0.11")  # builds without the flag
NEMOTRON_MOE_BEFORE_011 = ("engine-version: vLLM 0.10 builds Nemotron-H without MoE blocks "
                           "(nemotron_h.py has no 'E' layer until vllm-project/vllm#25863, "
                           "2025-10-23); choose 0.11 or later")
LANGUAGE_ONLY_WHY = ("language-model-only: vLLM's --language-model-only arrived in February 2026 "
                     "(vllm-project/vllm#34120); of the builds read here 0.17 and later have it")
CUDAGRAPH_DEDUCTED = ("0.20", "0.21", "0.22")  # the CUDA-graph estimate comes off before the pool
V2_RUNNER_ARCHITECTURES = ("Qwen3ForCausalLM",)  # config/vllm.py DEFAULT_V2_MODEL_RUNNER_...
# CacheConfig.gpu_memory_utilization's default: 0.92 from #38284 (v0.20), which also turned the
# CUDA-graph estimate on; 0.9 before
DEFAULT_UTIL = {"0.20": "0.92", "0.21": "0.92", "0.22": "0.92"}
# the allocator's max_split_size_mb while weights load (gpu_worker.py · load_model, CUDA only):
# vllm-project/vllm#41268 (2026-04-30, v0.21) books each tensor of 20 MiB or more whole
LOAD_MAX_SPLIT_MB = {"0.21": 20, "0.22": 20}
# `vllm serve` (OPENAI_API_SERVER), the offline LLM class (LLM_CLASS), or an engine built straight
# from EngineArgs / AsyncEngineArgs (ENGINE_CONTEXT: no entry in the defaults, SchedulerConfig's)
USAGES = ("serve", "llm", "engine")
_LLMD = ("llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md @4f4d4494 "
         "(vllm/vllm-openai image, vLLM 0.11.0, H100 79.18 GiB, util 0.9)")
# the snapshot rule (see above) → (tp == 1, NVLink board) → (bytes, the public line that printed it)
NON_TORCH = {
    "0.10": {
        "tp1": (round(0.07 * GIB), "vLLM 0.10.2, H100, TP 1: '0.07 GiB for non-torch memory' "
                                   "(gpu_worker.py:391, find_string id 34680831065)"),
        "tp_pcie": (round(0.21 * GIB), "vLLM 0.10.2, 8 × L40S (no NVLink), TP 4 + EP: '0.21 GiB "
                                       "for non-torch memory' (id 38962983769)"),
        "tp_nvlink": (round(1.38 * GIB), "vLLM 0.10.2, 2 × H200 (NVSwitch), TP 2: '1.38 GiB for "
                                         "non-torch memory' (id 7292846353)"),
    },
    "0.11": {
        "tp1": (round(0.13 * GIB), f"{_LLMD}, TP 1: 'Non-torch memory: 0.13 GiB' (Llama-3.1-8B, "
                                   "gpt-oss-20b, Qwen3-0.6B)"),
        "tp_pcie": (round(0.21 * GIB), "no 0.11 line read on a PCIe-only box: vLLM 0.10.2's "
                                       "'0.21 GiB for non-torch memory' on 8 × L40S, TP 4 + EP "
                                       "(id 38962983769)"),
        "tp_nvlink": (round(0.55 * GIB), f"{_LLMD}, TP 2: 'Non-torch memory: 0.55 GiB' "
                                         "(Llama-3.3-70B-Instruct-FP8-dynamic)"),
    },
}


def batch_defaults(gpu_total: int, gpu_name: str, usage: str = "serve") -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) that ``vllm serve`` / ``LLM`` pick on this GPU."""
    if usage not in USAGES:
        raise ValueError(f"usage: one of {', '.join(USAGES)}, got {usage!r}")
    if usage == "engine":  # config/scheduler.py: DEFAULT_MAX_NUM_BATCHED_TOKENS / _NUM_SEQS
        return 2048, 128
    big = gpu_total >= 70 * GIB and "a100" not in gpu_name.lower()
    if big:
        tokens, seqs = (8192 if usage == "serve" else 16384), 1024
    else:
        tokens, seqs = (2048 if usage == "serve" else 8192), 256
    return tokens, min(seqs, tokens)


def non_torch_default(tp: int, nvlink: bool, version: str = "0.10") -> tuple[int, str]:
    """vLLM's printed non-torch growth for this setup under ``version``'s snapshot rule."""
    key = "tp1" if tp == 1 else ("tp_nvlink" if nvlink else "tp_pcie")
    return NON_TORCH["0.10" if version == "0.10" else "0.11"][key]


def nemotron_moe(config: dict | None) -> bool:
    """A Nemotron-H config with MoE blocks (Nemotron-3-Nano, -Super)."""
    from ..model.shapes_nemotron_h import blocks
    return bool(config) and config.get("model_type") == "nemotron_h" and "moe" in blocks(config)


def multimodal(config: dict | None) -> bool:
    """Whether vLLM loads the checkpoint with an encoder it profiles (images, audio, video):
    a vision or audio config beside the text model, or the text model nested in text_config."""
    cfg = config or {}
    return any(isinstance(cfg.get(k), dict) for k in ("vision_config", "audio_config",
                                                      "text_config"))


def v2_runner(config: dict | None, version: str) -> bool:
    """Whether vLLM ``version`` runs this checkpoint on its V2 model runner by default: in 0.22,
    a dense, unquantized ``Qwen3ForCausalLM`` (``VllmConfig._is_default_v2_model_runner_model``)."""
    if version != "0.22" or not config:
        return False
    cfg = normalize(config)
    archs = config.get("architectures") or []
    moe = any(cfg.get(k) for k in ("num_experts", "n_routed_experts", "num_local_experts"))
    quantized = bool(config.get("quantization_config") or cfg.get("quantization_config"))
    return (any(a in V2_RUNNER_ARCHITECTURES for a in archs) and not moe and not quantized)


@dataclass(frozen=True, kw_only=True)
class VllmStartup:
    """One GPU's memory at vLLM startup, as ``determine_available_memory`` adds it up."""

    version: str
    sampler: str
    gpu: str
    gpu_total: int
    mem_util: Fraction
    weights: int
    activation: int
    forward_bytes: int      # the forward pass's peak (for the breakdown)
    sampler_bytes: int      # the dummy sampler's peak, hidden states included
    non_torch: int
    non_torch_source: str
    cudagraph: int          # deducted before the pool (0 before 0.22, or given as 0)
    max_num_batched_tokens: int
    max_num_seqs: int
    weights_line: str | None = None
    mm_encoder: str | None = None   # multimodal: "not modelled" / "skipped" / "text only"; else None
    dsa_indexer: bool = False       # DeepSeek sparse attention: the indexer's profiling scratch
    cudagraph_source: str = "captured after the pool in this version, outside the share"
    cudagraph_missing: bool = False  # 0.22 on CUDA with graphs and no estimate given
    runner: str = "V1"               # the model runner that profiled (V2: dense Qwen3 from 0.22)

    @property
    def requested(self) -> float:
        """``total × util``; from 0.17 ``math.ceil`` of it (``request_memory``)."""
        if self.version in TRITON_SAMPLER:
            return float(math.ceil(self.gpu_total * float(self.mem_util)))
        return float(self.gpu_total * self.mem_util)

    @property
    def available(self) -> int:
        """``int(requested − non_kv_cache_memory)``; negative when nothing is left."""
        return int(self.requested - (self.weights + self.activation + self.non_torch
                                     + self.cudagraph))

    @property
    def unused(self) -> int:
        """Bytes of the card above the requested share (never handed to vLLM)."""
        return self.gpu_total - int(self.requested)

    @property
    def sampler_words(self) -> str:
        """How the profiling run sampled (``vllm_profile.sampler_words``)."""
        return sampler_words(self.version, self.max_num_seqs, self.sampler, self.runner == "V2")

    @property
    def cudagraph_note(self) -> str:
        """What the prediction leaves out of a 0.22 start on CUDA ('' when nothing)."""
        if not self.cudagraph_missing:
            return ""
        return ("upper bound: vLLM 0.20+ also deducts its CUDA-graph estimate, which it measures "
                "by capturing graphs at startup (0.17 to 4.99 GiB in public v0.20 – v0.27 logs); "
                "give the 'Estimated CUDA graph memory' it prints, or 0 when started with "
                "--enforce-eager or VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0")

    @property
    def mm_note(self) -> str:
        """What the prediction leaves out for a multimodal model ('' for a text model)."""
        if self.mm_encoder != "not modelled":
            return ""
        return ("upper bound: vLLM first profiles the multimodal encoder on its largest dummy "
                "images or videos and holds their embeddings through this forward; that pass is "
                "not modelled (GiB to tens of GiB for video), so the KV memory it prints can be "
                "lower; started with --skip-mm-profiling, vLLM skips it and this figure holds "
                "(with --language-model-only it also loads no vision tower)")

    @property
    def dsa_note(self) -> str:
        """What the prediction leaves out for DeepSeek sparse attention ('' for other models)."""
        if not self.dsa_indexer:
            return ""
        return ("upper bound: in the profiling run the lightning indexer also quantizes its keys "
                "and scores the dummy batch's queries against them (float32 logits, vLLM's "
                "SparseAttnIndexer and its workspace); that scratch is not modelled, so the KV "
                "memory it prints can be lower")

    def breakdown(self) -> dict[str, int]:
        return {"gpu_total_bytes": self.gpu_total, "weight_bytes_per_gpu": self.weights,
                "activation_bytes": self.activation, "non_torch_bytes": self.non_torch,
                "cudagraph_bytes": self.cudagraph, "kv_memory_bytes": self.available}

    def log_lines(self) -> list[str]:
        """The lines vLLM prints; weights larger than the card end them at the load's failure."""
        if oom := load_oom(self.weights, self.gpu_total, log=True):
            return [oom]
        if self.version not in TRITON_SAMPLER:
            lines = [self.weights_line] if self.weights_line else []
            return lines + [f"Available KV cache memory: {self.available / GIB:.2f} GiB"]
        gib = lambda b: round(b / GIB, 2)  # noqa: E731 -- format_gib: "15.0", not "15.00"
        lines = [f"Model loading took {gib(self.weights)} GiB memory"] if self.weights_line else []
        if self.cudagraph and self.version in CUDAGRAPH_DEDUCTED:  # vLLM prints this one "%.2f"
            lines.append(f"Estimated CUDA graph memory: {self.cudagraph / GIB:.2f} GiB total")
        return lines + [f"Available KV cache memory: {gib(self.available)} GiB"]


def predict(model, gpu: GpuSpec | tuple[str, int], *, mem_util: object = None, tp: int = 1,
            usage: str = "serve", version: str = DEFAULT_VERSION,
            max_num_batched_tokens: int | None = None, max_num_seqs: int | None = None,
            expert_parallel: bool = False, non_torch: int | None = None,
            sampler: str = "native", skip_mm_profiling: bool = False,
            cudagraph: int | None = None, language_model_only: bool = False) -> VllmStartup:
    """vLLM's startup memory on one GPU of a TP group for ``model`` (a ``ModelSpec`` priced from
    its config.json). ``gpu`` is a catalogue entry or (name, driver total bytes).
    ``skip_mm_profiling``: vLLM started with ``--skip-mm-profiling`` (no encoder pass).
    ``language_model_only``: ``--language-model-only`` (from 0.17; ``LANGUAGE_ONLY_WHY``): no
    vision tower loaded and no encoder pass (``MultiModalRegistry.supports_multimodal_inputs``
    is False when every modality's limit is 0).
    ``cudagraph``: 0.22's CUDA-graph estimate in bytes ("Estimated CUDA graph memory"; 0 with
    ``--enforce-eager`` or the estimate turned off); None leaves it out, flagged as missing.
    ``mem_util``: None takes the build's default (``DEFAULT_UTIL``: 0.92 from v0.20, else 0.9)."""
    from ..capacity import _utilization
    refuse_compressed(model, "vllm", V4_WHY)
    if version == "0.10" and model.has_indexer:
        raise ValueError(DSA_BEFORE_011)
    if version == "0.10" and nemotron_moe(model.config):
        raise ValueError(NEMOTRON_MOE_BEFORE_011)
    if language_model_only and version in LANGUAGE_ONLY_BEFORE:
        raise ValueError(LANGUAGE_ONLY_WHY)
    if version not in VERSIONS:
        raise ValueError(f"engine-version: vLLM rules are read for {', '.join(VERSIONS)}, got "
                         f"{version!r}")
    name, total, nvlink = ((gpu.name, gpu.total_bytes, gpu.nvlink) if isinstance(gpu, GpuSpec)
                           else (gpu[0], gpu[1], False))
    if cudagraph is not None and (isinstance(cudagraph, bool) or cudagraph < 0):
        raise ValueError(f"cudagraph-memory: must be 0 or more bytes, got {cudagraph!r}")
    if cudagraph is not None and version not in CUDAGRAPH_DEDUCTED:
        raise ValueError(f"cudagraph-memory: vLLM {version} captures its graphs after the pool "
                         "and deducts nothing for them; it applies to "
                         f"{', '.join(CUDAGRAPH_DEDUCTED)}")
    util = _utilization(DEFAULT_UTIL.get(version, "0.9") if mem_util is None else mem_util)
    if model.config is None:
        raise ValueError("engine vllm: startup memory needs the model's config.json (its weights, "
                         "hidden size and vocabulary)")
    cfg = normalize(model.config)
    d_tokens, d_seqs = batch_defaults(total, name, usage)
    tokens = d_tokens if max_num_batched_tokens is None else max_num_batched_tokens
    seqs = min(d_seqs if max_num_seqs is None else max_num_seqs, tokens)
    if tokens < 1 or seqs < 1:
        raise ValueError("max-num-batched-tokens: must be at least 1")
    rocm = not_cuda(gpu)
    weights, line = _weights(model, tp, expert_parallel,
                             LOAD_MAX_SPLIT_MB.get(version) if not rocm else None,
                             build=version, max_num_batched_tokens=tokens,
                             language_model_only=language_model_only,
                             sm=gpu.sm if isinstance(gpu, GpuSpec) else None)
    mtype = str(cfg.get("model_type") or "")
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", VOCAB_DEFAULT.get(mtype), hi=1 << 26)
    fwd = forward_peak(model.config, tokens, tp, model.dtype, expert_parallel)
    v2 = v2_runner(model.config, version)
    smp = sampler_bytes(version, tokens, seqs, hidden, vocab, model.dtype, sampler=sampler,
                        sms=sm_count(gpu), v2=v2)
    if non_torch is None:
        non_torch, source = non_torch_default(tp, nvlink, version)
        if version in TRITON_SAMPLER:
            source += " (the 0.11 snapshot rule: gpu_worker.py init_device, unchanged at 811d80519)"
    else:
        source = "given (--non-torch)"
    cg, cg_source, missing = _cudagraph(version, rocm, v2, cudagraph)
    return VllmStartup(version=version, sampler=sampler, gpu=name, gpu_total=total,
                       mem_util=util, weights=weights, activation=max(fwd, smp),
                       forward_bytes=fwd, sampler_bytes=smp, non_torch=non_torch,
                       non_torch_source=source, cudagraph=cg, max_num_batched_tokens=tokens,
                       max_num_seqs=seqs, weights_line=line,
                       dsa_indexer=model.has_indexer,
                       mm_encoder=(None if not multimodal(model.config) else
                                   "text only" if language_model_only else
                                   "skipped" if skip_mm_profiling else "not modelled"),
                       cudagraph_source=cg_source, cudagraph_missing=missing,
                       runner="V2" if v2 else "V1")


def _cudagraph(version: str, rocm: bool, v2: bool, given: int | None) -> tuple[int, str, bool]:
    """(bytes deducted for CUDA graphs, why, whether the figure is missing)."""
    if version not in CUDAGRAPH_DEDUCTED:
        return 0, "captured after the pool in this version, outside the share", False
    if given is not None:
        return (given, "given: vLLM's 'Estimated CUDA graph memory' (0: eager or estimate off)",
                False)
    if v2:
        return 0, "the V2 model runner's profile_cudagraph_memory returns 0", False
    if rocm:
        return 0, "not profiled on ROCm (gpu_worker.py: current_platform.is_cuda() only)", False
    return 0, "not predicted: vLLM measures it by capturing graphs at startup", True


def _weights(model, tp: int, expert_parallel: bool, max_split_mb: int | None = None, *,
             build: str = DEFAULT_VERSION, max_num_batched_tokens: int = 8192,
             language_model_only: bool = False, sm: int | None = None) -> tuple[int, str | None]:
    """vLLM's "Model loading took" bytes where the format is modelled, else the checkpoint's
    TP share (``capacity.weights_per_gpu``)."""
    from ..capacity import weights_per_gpu
    from .vllm_weights import vllm_load
    try:
        load = vllm_load(model.config, tp=tp, expert_parallel=expert_parallel,
                         max_split_mb=max_split_mb, build=build,
                         max_num_batched_tokens=max_num_batched_tokens,
                         language_model_only=language_model_only, sm=sm)
        return load.allocated, load.log_line
    except ValueError:
        if language_model_only and multimodal(model.config):
            raise ValueError("language-model-only: this model's tensors are not listed, so the "
                             "share its vision tower leaves out is not known") from None
        share = weights_per_gpu(model, tp)
        if share is None:
            raise ValueError(model.weights_error or "weights: unknown for this model; vLLM's "
                             "startup memory needs them") from None
        return share, None
