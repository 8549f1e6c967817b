"""vLLM's profiling run: the activation peak ``determine_available_memory`` subtracts
(``torch_peak_increase``), by build. ``vllm_startup.py`` adds it to the rest of the startup.

``gpu_model_runner.py`` · ``profile_run`` runs a dummy forward of ``max_num_batched_tokens``
tokens spread over ``min(max_num_seqs, tokens)`` requests, then ``_dummy_sampler_run`` on the
last token of each request while the forward's hidden states are still held (all of them, the
last rows and a ``torch.rand_like`` of those rows that the sampler reads instead,
vllm-project/vllm#18543). The forward's own peak is the eager live set of one layer's MLP
(residual, normed input, gate_up output, activation output, down output; fused MoE's
intermediate caches for expert layers; Nemotron-H's relu² MLP and experts have no gate, so their
first output is I wide, not 2·I); it sets the peak only when it exceeds the sampler's.

The sampler, read at v0.10.2 (builds "0.10", "0.11"): the dummy sampling metadata asks for top-k
and top-p (``all_greedy=False``), so ``sample/sampler.py`` · ``Sampler.forward`` casts the logits
to float32 and ``sample/ops/topk_topp_sampler.py`` · ``apply_top_k_top_p`` sorts them
(``logits.sort(dim=-1)``). PyTorch's CUDA sort of N rows of V (``aten/src/ATen/native/cuda/
Sort.cu`` · ``segmented_sort_pairs``) holds, besides its input, the sorted values (4 B) and int64
indices (8 B), an int64 reverse-index buffer (8 B) and cub's radix-sort temporaries for a key and
a value copy (4 + 8 B): 32 B per logit, on top of the model-dtype logits and their float32 copy.
That sort is the peak of the sampler (the later mask, softmax and scatter hold at most 28 B per
logit). That is the native sampler, which these versions run when FlashInfer is not installed
(``pip install vllm`` logs "FlashInfer is not available. Falling back to the PyTorch-native
implementation"). Where FlashInfer is installed (the ``vllm/vllm-openai`` image)
``TopKTopPSampler.__init__`` takes it (``VLLM_USE_FLASHINFER_SAMPLER is not False``) and
``flashinfer_sample`` calls ``top_k_top_p_sampling_from_logits``, which masks the float32 logits
into a new tensor and softmaxes that into another: 4 + 4 B per logit beyond the copy.

From v0.17 (builds "0.17", "0.22", read at upstream 811d80519): vllm-project/vllm#33538 sends
top-k/top-p over 8 or more rows to a Triton kernel (``sample/ops/topk_topp_triton.py`` ·
``apply_top_k_top_p_triton``) that masks the float32 logits in place, with one cached float32
buffer of ``min(next_pow2(min(SMs, rows)), SMs)`` × vocab (``num_compute_units``);
``TopKTopPSampler.forward_native`` then holds the softmax probabilities and ``random_sample``'s
exponential noise (4 + 4 B per logit). Fewer than 8 rows keep the sort. FlashInfer's sampler is
off unless ``VLLM_USE_FLASHINFER_SAMPLER=1`` (#26859); from v0.21 ``_dummy_sampler_run`` also runs
the sampler a second time with a generator (#41375), which takes the native path whatever is
installed (FlashInfer itself became the default that day, #40376, both after the v0.20 branch:
a v0.20.0 start still samples natively unless asked). The V2 model runner (dense Qwen3 from v0.22)
samples its dummy batch greedily
(``v1/worker/gpu/model_runner.py`` · ``_dummy_sampler_run``: no top-k/top-p asked), holding the
logits and ``apply_sampling_params``' float32 copy.
"""
from __future__ import annotations

from ..hf_config import normalize

TRITON_SAMPLER = ("0.17", "0.18", "0.20", "0.21", "0.22")  # builds with the Triton top-k/top-p mask
# builds where FlashInfer samples only when VLLM_USE_FLASHINFER_SAMPLER=1 and the profiling run
# samples once (from v0.21 it is on by default, #40376, and a second, native pass follows, #41375)
FLASHINFER_OPT_IN = ("0.17", "0.18", "0.20")

SORT_BYTES_PER_LOGIT = 4 + 8 + 8 + 4 + 8  # values, indices, reverse indices, cub key + value copies
FLASHINFER_BYTES_PER_LOGIT = 4 + 4        # top_k_mask_logits output, softmax probs
SAMPLERS = ("native", "flashinfer")


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


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def triton_buffer(num_reqs: int, vocab: int, sms: int | None) -> int:
    """Bytes of ``apply_top_k_top_p_triton``'s cached float32 buffer: ``min(next_pow2(programs),
    SMs)`` rows of the vocabulary, programs = min(SMs, rows); with the SM count unknown,
    ``next_pow2(rows)`` rows, the most it can be on any card."""
    if sms is None:
        return 4 * _next_pow2(num_reqs) * vocab
    programs = min(sms, num_reqs)
    return 4 * min(_next_pow2(programs), sms) * vocab


def sampler_peak_v017(num_reqs: int, vocab: int, dtype: str = "bf16", sampler: str = "native",
                      sms: int | None = None, version: str = "0.22") -> int:
    """Bytes the dummy sampler holds at its peak from v0.17 (V1 model runner): the model-dtype
    logits and their float32 copy, then over 8+ rows the Triton mask's buffer, the softmax
    probabilities and the exponential noise (4 + 4 B per logit), under 8 rows the sort (as
    before). FlashInfer (0.17 with ``VLLM_USE_FLASHINFER_SAMPLER=1``) holds 4 + 4 B per logit
    instead; from 0.21 the generator pass takes the native path whatever is installed."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler: one of {', '.join(SAMPLERS)}, got {sampler!r}")
    item = _item(dtype)
    logits = num_reqs * vocab
    held = item * logits + (0 if item == 4 else 4 * logits)
    if sampler == "flashinfer" and version in FLASHINFER_OPT_IN:
        return held + FLASHINFER_BYTES_PER_LOGIT * logits
    if num_reqs >= 8:
        return held + triton_buffer(num_reqs, vocab, sms) + 8 * logits
    return held + SORT_BYTES_PER_LOGIT * logits


def forward_peak(config: dict, tokens: int, tp: int, dtype: str = "bf16",
                 expert_parallel: bool = False) -> int:
    """Eager live set of one decoder layer's MLP over ``tokens`` tokens on one TP rank."""
    cfg = normalize(config)
    item = _item(dtype)
    hidden = int(cfg.get("hidden_size") or 0)
    inter = cfg.get("intermediate_size") or 0
    inter = max(inter) if isinstance(inter, list) else int(inter)  # Nemotron-H: one per MLP
    # Nemotron-H's relu² MLP and experts are not gated (NemotronHMLP's up_proj alone;
    # FusedMoE(is_act_and_mul=False)): the first projection and the activation are I wide each
    # where a gated MLP's are 2·I and I
    first = 1 if cfg.get("model_type") == "nemotron_h" else 2
    experts = cfg.get("num_experts") or cfg.get("n_routed_experts") or cfg.get("num_local_experts")
    dense = tokens * (2 * hidden + (first + 1) * inter // tp + hidden) * item
    if not experts:
        return dense
    moe_inter = int(cfg.get("moe_intermediate_size") or inter)
    topk = int(cfg.get("num_experts_per_tok") or 1)
    chunk = min(tokens, 32768)  # fused_moe.py: VLLM_FUSED_MOE_CHUNK_SIZE
    per_rank = moe_inter if expert_parallel else moe_inter // tp
    caches = chunk * topk * (first * per_rank + per_rank + hidden) * item
    router = tokens * int(experts) * 4
    return max(dense if inter else 0, tokens * 2 * hidden * item + caches + router)


def sampler_bytes(version: str, tokens: int, seqs: int, hidden: int, vocab: int,
                  dtype: str = "bf16", *, sampler: str = "native", sms: int | None = None,
                  v2: bool = False) -> int:
    """The dummy sampler's peak with the hidden states the profiling run still holds: the forward's
    ``tokens`` rows, then (V1 runner) the last rows and their ``rand_like`` copy."""
    item = _item(dtype)
    if v2:  # hidden states, their last rows, the logits and apply_sampling_params' float32 copy
        return (tokens + seqs) * hidden * item + (item + 4) * seqs * vocab
    held = (tokens + 2 * seqs) * hidden * item
    if version in TRITON_SAMPLER:
        return held + sampler_peak_v017(seqs, vocab, dtype, sampler, sms, version)
    return held + sampler_peak(seqs, vocab, dtype, sampler)


def sampler_words(version: str, seqs: int, sampler: str = "native", v2: bool = False) -> str:
    """How the profiling run samples in this build, in a few words (the pages' caption)."""
    if v2:
        return "the V2 model runner's greedy dummy batch"
    if version in FLASHINFER_OPT_IN and sampler == "flashinfer":
        return "FlashInfer top-k/top-p sampler"
    if version in TRITON_SAMPLER:
        return ("Triton top-k/top-p mask, softmax and noise" if seqs >= 8 else
                "top-k/top-p sort (under 8 rows)")
    return f"{sampler} top-k/top-p sampler"
