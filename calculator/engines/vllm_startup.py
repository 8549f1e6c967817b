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
  of ``max_num_batched_tokens`` tokens spread over ``min(max_num_seqs, tokens)`` requests, then
  ``_dummy_sampler_run`` on the last token of each request while the forward's hidden states
  are still held. The dummy sampling metadata asks for top-k and top-p (``all_greedy=False``),
  so ``sample/sampler.py`` · ``Sampler.forward`` casts the logits to float32 and
  ``sample/ops/topk_topp_sampler.py`` · ``apply_top_k_top_p`` sorts them
  (``logits.sort(dim=-1)``). PyTorch's CUDA sort of N rows of V (``aten/src/ATen/native/cuda/
  Sort.cu`` · ``segmented_sort_pairs``) holds, besides its input, the sorted values (4 B) and
  int64 indices (8 B), an int64 reverse-index buffer (8 B) and cub's radix-sort temporaries for
  a key and a value copy (4 + 8 B): 32 B per logit, on top of the model-dtype logits and their
  float32 copy. That sort is the peak of the sampler (the later mask, softmax and scatter hold
  at most 28 B per logit). That is the native sampler, which these versions run when FlashInfer
  is not installed (``pip install vllm`` logs "FlashInfer is not available. Falling back to the
  PyTorch-native implementation"). Where FlashInfer is installed (the ``vllm/vllm-openai`` image)
  ``TopKTopPSampler.__init__`` takes it (``VLLM_USE_FLASHINFER_SAMPLER is not False``) and
  ``flashinfer_sample`` calls ``top_k_top_p_sampling_from_logits``, which masks the float32
  logits into a new tensor and softmaxes that into another: 4 + 4 B per logit beyond the copy.
  The forward's own peak is the eager live set of one layer's MLP (residual, normed input,
  gate_up output, activation output, down output; fused MoE's intermediate caches for expert
  layers); it sets the peak only when it exceeds the sampler's.
- ``engine/arg_utils.py`` · ``EngineArgs._set_default_args``: on a GPU of 70 GiB or more whose
  name does not contain "a100", ``max_num_batched_tokens`` defaults to 16384 for the ``LLM``
  class and 8192 for ``vllm serve``, ``max_num_seqs`` to 1024; elsewhere 8192 / 2048 and 256;
  ``max_num_seqs`` is then capped at ``max_num_batched_tokens``.

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

from dataclasses import dataclass
from fractions import Fraction

from ..dsv4 import refuse_compressed
from ..hf_config import normalize
from ..model.shapes import VOCAB_DEFAULT, config_int
from ..gpus import GIB, GpuSpec
from .vllm import POOL_VERSIONS, V4_WHY

VERSIONS = ("0.10", "0.11")
# releases whose pool rules are read but not their startup: they need the logged KV memory
POOL_ONLY = tuple(v for v in POOL_VERSIONS if v not in VERSIONS)
DEFAULT_VERSION = "0.11"
USAGES = ("serve", "llm")   # `vllm serve` (OPENAI_API_SERVER) or the offline LLM class
SORT_BYTES_PER_LOGIT = 4 + 8 + 8 + 4 + 8  # values, indices, reverse indices, cub key + value copies
FLASHINFER_BYTES_PER_LOGIT = 4 + 4        # top_k_mask_logits output, softmax probs
SAMPLERS = ("native", "flashinfer")

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
    big = gpu_total >= 70 * GIB and "a100" not in gpu_name.lower()
    if big:
        tokens, seqs = (8192 if usage == "serve" else 16384), 1024
    else:
        tokens, seqs = (2048 if usage == "serve" else 8192), 256
    return tokens, min(seqs, tokens)


def non_torch_default(tp: int, nvlink: bool, version: str = "0.10") -> tuple[int, str]:
    """vLLM's printed non-torch growth for this setup under ``version``'s snapshot rule."""
    key = "tp1" if tp == 1 else ("tp_nvlink" if nvlink else "tp_pcie")
    return NON_TORCH[version][key]


def multimodal(config: dict | None) -> bool:
    """Whether vLLM loads the checkpoint with an encoder it profiles (images, audio, video):
    a vision or audio config beside the text model, or the text model nested in text_config."""
    cfg = config or {}
    return any(isinstance(cfg.get(k), dict) for k in ("vision_config", "audio_config",
                                                      "text_config"))


def _item(dtype: str) -> int:
    return 4 if dtype == "fp32" else 2


def sampler_peak(num_reqs: int, vocab: int, dtype: str = "bf16", sampler: str = "native") -> int:
    """Bytes the top-k/top-p sampler holds at its peak over ``num_reqs`` × ``vocab`` logits:
    the model-dtype logits, their float32 copy, then the sort's buffers (native) or FlashInfer's
    masked logits and probabilities."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler: one of {', '.join(SAMPLERS)}, got {sampler!r}")
    item = _item(dtype)
    logits = num_reqs * vocab
    f32_copy = 0 if item == 4 else 4 * logits   # .to(torch.float32) of fp32 logits is a no-op
    extra = SORT_BYTES_PER_LOGIT if sampler == "native" else FLASHINFER_BYTES_PER_LOGIT
    return item * logits + f32_copy + extra * logits


def forward_peak(config: dict, tokens: int, tp: int, dtype: str = "bf16",
                 expert_parallel: bool = False) -> int:
    """Eager live set of one decoder layer's MLP over ``tokens`` tokens on one TP rank."""
    cfg = normalize(config)
    item = _item(dtype)
    hidden = int(cfg.get("hidden_size") or 0)
    inter = int(cfg.get("intermediate_size") or 0)
    experts = cfg.get("num_experts") or cfg.get("n_routed_experts") or cfg.get("num_local_experts")
    dense = tokens * (2 * hidden + 3 * inter // tp + hidden) * item
    if not experts:
        return dense
    moe_inter = int(cfg.get("moe_intermediate_size") or inter)
    topk = int(cfg.get("num_experts_per_tok") or 1)
    chunk = min(tokens, 32768)  # fused_moe.py: VLLM_FUSED_MOE_CHUNK_SIZE
    per_rank = moe_inter if expert_parallel else moe_inter // tp
    caches = chunk * topk * (2 * per_rank + per_rank + hidden) * item
    router = tokens * int(experts) * 4
    return max(dense if inter else 0, tokens * 2 * hidden * item + caches + router)


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
    cudagraph: int          # deducted before the pool: 0 in these versions
    max_num_batched_tokens: int
    max_num_seqs: int
    weights_line: str | None = None
    mm_encoder: str | None = None   # "not modelled" / "skipped" for a multimodal model, else None

    @property
    def requested(self) -> float:
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
    def mm_note(self) -> str:
        """What the prediction leaves out for a multimodal model ('' for a text model)."""
        if self.mm_encoder != "not modelled":
            return ""
        return ("upper bound: vLLM first profiles the multimodal encoder on its largest dummy "
                "images or videos and holds their embeddings through this forward; that pass is "
                "not modelled (GiB to tens of GiB for video), so the KV memory it prints can be "
                "lower; started with --skip-mm-profiling, vLLM skips it and this figure holds")

    def breakdown(self) -> dict[str, int]:
        return {"gpu_total_bytes": self.gpu_total, "weight_bytes_per_gpu": self.weights,
                "activation_bytes": self.activation, "non_torch_bytes": self.non_torch,
                "cudagraph_bytes": self.cudagraph, "kv_memory_bytes": self.available}

    def log_lines(self) -> list[str]:
        lines = [self.weights_line] if self.weights_line else []
        return lines + [f"Available KV cache memory: {self.available / GIB:.2f} GiB"]


def predict(model, gpu: GpuSpec | tuple[str, int], *, mem_util: object = "0.9", tp: int = 1,
            usage: str = "serve", version: str = DEFAULT_VERSION,
            max_num_batched_tokens: int | None = None, max_num_seqs: int | None = None,
            expert_parallel: bool = False, non_torch: int | None = None,
            sampler: str = "native", skip_mm_profiling: bool = False) -> VllmStartup:
    """vLLM's startup memory on one GPU of a TP group for ``model`` (a ``ModelSpec`` priced from
    its config.json). ``gpu`` is a catalogue entry or (name, driver total bytes).
    ``skip_mm_profiling``: vLLM started with ``--skip-mm-profiling`` (no encoder pass)."""
    from ..capacity import _utilization
    refuse_compressed(model, "vllm", V4_WHY)
    if version not in VERSIONS:
        raise ValueError(f"engine-version: vLLM rules are read for {', '.join(VERSIONS)}, got "
                         f"{version!r}")
    name, total, nvlink = ((gpu.name, gpu.total_bytes, gpu.nvlink) if isinstance(gpu, GpuSpec)
                           else (gpu[0], gpu[1], False))
    util = _utilization(mem_util)
    if model.config is None:
        raise ValueError("engine vllm: startup memory needs the model's config.json (its weights, "
                         "hidden size and vocabulary)")
    cfg = normalize(model.config)
    d_tokens, d_seqs = batch_defaults(total, name, usage)
    tokens = d_tokens if max_num_batched_tokens is None else max_num_batched_tokens
    seqs = min(d_seqs if max_num_seqs is None else max_num_seqs, tokens)
    if tokens < 1 or seqs < 1:
        raise ValueError("max-num-batched-tokens: must be at least 1")
    weights, line = _weights(model, tp, expert_parallel)
    mtype = str(cfg.get("model_type") or "")
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", VOCAB_DEFAULT.get(mtype), hi=1 << 26)
    item = _item(model.dtype)
    fwd = forward_peak(model.config, tokens, tp, model.dtype, expert_parallel)
    smp = (tokens + seqs) * hidden * item + sampler_peak(seqs, vocab, model.dtype, sampler)
    if non_torch is None:
        non_torch, source = non_torch_default(tp, nvlink, version)
    else:
        source = "given (--non-torch)"
    return VllmStartup(version=version, sampler=sampler, gpu=name, gpu_total=total,
                       mem_util=util, weights=weights,
                       activation=max(fwd, smp), forward_bytes=fwd, sampler_bytes=smp, non_torch=non_torch,
                       non_torch_source=source, cudagraph=0, max_num_batched_tokens=tokens,
                       max_num_seqs=seqs, weights_line=line,
                       mm_encoder=(None if not multimodal(model.config) else
                                   "skipped" if skip_mm_profiling else "not modelled"))


def _weights(model, tp: int, expert_parallel: bool) -> tuple[int, str | None]:
    """vLLM's "Model loading took" bytes where the format is modelled, else the checkpoint's
    TP share (``capacity.weights_per_gpu``)."""
    from ..capacity import weights_per_gpu
    from .vllm_weights import vllm_load
    try:
        load = vllm_load(model.config, tp=tp, expert_parallel=expert_parallel)
        return load.allocated, load.log_line
    except ValueError:
        share = weights_per_gpu(model, tp)
        if share is None:
            raise ValueError("weights: unknown for this model; vLLM's startup memory needs them") \
                from None
        return share, None
