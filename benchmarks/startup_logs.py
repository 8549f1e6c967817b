"""Public engine startup logs with the GPU, the model and the flags known: what vLLM printed as
"Available KV cache memory" and what SGLang sized its token pool to. ``tests/test_startup.py``
checks the predictions against them and ``benchmarks/bench_startup.py`` prints the errors.

Each entry names its source (repository and issue, or the search index id of the public file it
was read from) and only the flags the run set; everything else is the engine's default.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from calculator.gpus import GPU_SPECS, GpuSpec
from calculator.load import model_from_config_text
from model_presets import checkpoint_config, load_preset

FP8_BLOCK = {"quant_method": "fp8", "activation_scheme": "dynamic", "fmt": "e4m3",
             "weight_block_size": [128, 128]}


def _config(preset: str, checkpoint: str | None = None, **changes) -> dict:
    return {**checkpoint_config(preset, checkpoint), **changes}


def _model(config: dict, name: str):
    return model_from_config_text(json.dumps(config), name=name)


QWEN3_30B_A3B_2507_FP8 = {
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048,
    "intermediate_size": 6144, "num_hidden_layers": 48, "num_attention_heads": 32,
    "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
    "max_position_embeddings": 262144, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "rope_theta": 10000000,
    "quantization_config": FP8_BLOCK}
LLAMA_32_1B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0,
                                             "low_freq_factor": 1.0, "rope_type": "llama3",
                                             "original_max_position_embeddings": 8192}}
def _qwen3(hidden: int, inter: int, layers: int, heads: int, tied: bool) -> dict:
    """A Qwen3 dense config.json (8 KV heads of 128, vocabulary 151,936, 40,960 positions)."""
    return {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": hidden,
            "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
            "max_position_embeddings": 40960, "tie_word_embeddings": tied,
            "torch_dtype": "bfloat16", "rope_theta": 1000000}


QWEN3_14B = _qwen3(5120, 17408, 40, 40, tied=False)
QWEN3_06B = _qwen3(1024, 3072, 28, 16, tied=True)
QWQ_32B = {  # Qwen/QwQ-32B: Qwen2.5-32B's shapes; SGLang derived context_len=131072 from it
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 5120,
    "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 40,
    "num_key_value_heads": 8, "vocab_size": 152064, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "rope_theta": 1000000.0,
    "sliding_window": 32768, "use_sliding_window": False, "max_window_layers": 64}


@dataclass(frozen=True)
class StartupLog:
    what: str
    engine: str               # "vllm" or "sglang"
    model: object             # a callable returning the ModelSpec (built lazily)
    gpu: GpuSpec
    knobs: dict
    logged_gib: str           # vLLM: "Available KV cache memory"; SGLang: K + V size of the pool
    source: str
    logged_tokens: int | None = None   # SGLang's #tokens
    version: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict)


# sm: these are CUDA cards (their logs are CUDA builds'); 0 would read as ROCm (no float32 rope
# cache in SGLang, no CUDA-graph estimate in vLLM 0.20+). The 23.53 GiB cards are RTX 4090s (8.9);
# the 44.31 GiB card's compute capability is not printed: 8.6 stands for "CUDA, below Hopper"
_24GB = GpuSpec("24 GB card (23.53 GiB)", "23.53", None, False,
                "vLLM 'Free memory on device (23.08/23.53 GiB)' (id 34681159919)", sm=89)
_4090 = GpuSpec("RTX 4090 24GB", "23.53", 24564, False,
                "nvidia-smi 24564 MiB; free at start 23.08 GiB as on the card above", sm=89)
_44GB = GpuSpec("44.31 GiB card", "44.31", None, False,
                "vLLM 'Requested memory: 0.90 (util), 39.88 GiB' (id 21240355802)", sm=86)

_LLMD = ("llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md @4f4d4494: "
         "vllm/vllm-openai (0.11.0) serve on H100s (79.18 GiB), --block-size 128 "
         "--enable-prefix-caching --max-model-len 16000")
_H100 = GPU_SPECS["H100 80GB"]


def _llmd(what: str, model, knobs: dict, logged: str, breakdown: str) -> "StartupLog":
    return StartupLog(what, "vllm", model, _H100, {"version": "0.11", **knobs}, logged,
                      f"{_LLMD}: {breakdown}", version="0.11.0")


VLLM_LOGS = [
    StartupLog("Qwen3-235B-A22B-Instruct-2507-FP8, 8 × L40S, TP 8 + EP, serve", "vllm",
               lambda: _model(_config("qwen3-235b-a22b", "FP8", max_position_embeddings=262144),
                              "Qwen3-235B-A22B-Instruct-2507-FP8"),
               GPU_SPECS["L40S 48GB"], {"tp": 8, "expert_parallel": True, "version": "0.10"}, "10.65",
               "Qwen3-235B-A22B-Instruct-2507-FP8 on 8xL40S hosting notes (vLLM 0.10.2; find_string "
               "id 38962983769): 'Available KV cache memory: 10.65 GiB', and the breakdown '27.72 "
               "GiB for weight, 1.4 GiB for peak activation, 0.21 GiB for non-torch memory'",
               version="0.10.2"),
    StartupLog("Qwen3-30B-A3B-Instruct-2507-FP8, 2 × L40S, TP 2 + EP, util 0.95", "vllm",
               lambda: _model(QWEN3_30B_A3B_2507_FP8, "Qwen3-30B-A3B-Instruct-2507-FP8"),
               GPU_SPECS["L40S 48GB"], {"tp": 2, "expert_parallel": True, "mem_util": "0.95",
                                         "version": "0.10"},
               "25.91", "Ollama vs vLLM comparison on 2x L40S (vLLM 0.10.2; id 39328153190)",
               version="0.10.2"),
    StartupLog("Qwen3-Next-80B-A3B-Instruct, 2 × H200, TP 2, serve", "vllm",
               lambda: load_preset("qwen3-next-80b-a3b"), GPU_SPECS["H200 141GB"], {"tp": 2, "version": "0.10"},
               "44.59", "vLLM 0.10.2 api_server log, CUDA_VISIBLE_DEVICES=6,7 --tensor-parallel-size "
               "2 (id 7292846353); breakdown '74.28 GiB for weight, 5.58 GiB for peak activation, "
               "1.38 GiB for non-torch memory'", version="0.10.2",
               notes="weights: vLLM's load, 74.28 GiB as logged (the checkpoint's TP share alone "
                     "is 74.25)"),
    StartupLog("gpt-oss-120b, 1 × H100, serve", "vllm", lambda: load_preset("gpt-oss-120b"),
               GPU_SPECS["H100 80GB"], {"version": "0.11"}, "-2.28",
               "vllm-project/vllm#27508 ('openai/gpt-oss-120b can't run on H100', vLLM 0.11, "
               "vllm serve openai/gpt-oss-120b --async-scheduling; id 56996512052)",
               version="0.11", notes="the prediction says the same: no memory for the cache"),
    StartupLog("Llama-3.1-8B-Instruct, 1 × A100 40GB, LLM class, enforce_eager", "vllm",
               lambda: load_preset("llama-3.1-8b"), GPU_SPECS["A100 40GB"],
               {"usage": "llm", "version": "0.11"},
               "19.28", "ilseokoh/vllm-gce README (vLLM 0.15.1 on a2-highgpu-1g, LLM(model, "
               "enforce_eager=True); id 34342936495)", version="0.15.1",
               notes="a 0.15.1 run: the 0.11 rules reproduce it (TP 1, native sampler)"),
    StartupLog("Qwen3-8B-FP8 --dtype float16, 24 GB card, util 0.8", "vllm",
               lambda: _model(_config("qwen3-8b", "FP8", torch_dtype="float16"), "Qwen3-8B-FP8"),
               _24GB, {"mem_util": "0.8", "version": "0.10"}, "8.60",
               "LLM inference review notes (vLLM 0.10.2 debug log: 'torch peak memory increase: "
               "1.40GiB; non-torch forward increase memory: 0.02GiB; weights memory: 8.80GiB'; "
               "id 34681159919)", version="0.10.2"),
    StartupLog("Llama-3.2-1B, 44.31 GiB card, vllm/vllm-openai image (FlashInfer sampler)", "vllm",
               lambda: _model(LLAMA_32_1B, "Llama-3.2-1B"), _44GB, {"sampler": "flashinfer", "version": "0.10"},
               "37.10", "vLLM 0.10.x docker build debug log ('torch peak memory increase: 0.45GiB; "
               "weights memory: 2.32GiB', 16 llama layers; id 21240355802)", version="0.10.1"),
    # six runs of one public table, each line adding up: requested − weights − peak − non-torch
    _llmd("Llama-3.1-8B-Instruct, 1 × H100, serve (llm-d)", lambda: load_preset("llama-3.1-8b"),
          {}, "51.38", "'14.99 GiB' weights, '4.76 GiB' peak activation, '0.13 GiB' non-torch"),
    StartupLog("gpt-oss-20b, 1 × H100, serve (llm-d)", "vllm", lambda: load_preset("gpt-oss-20b"),
               _H100, {"version": "0.11"}, "50.28", f"{_LLMD}: '13.47 GiB' weights, '7.38 GiB' peak activation, "
               "'0.13 GiB' non-torch", version="0.11.0",
               notes="weights: the Marlin MXFP4 layout gives 13.72 GiB where this Hopper run "
                     "loaded 13.47; Hopper's MXFP4 backend layout is not read"),
    _llmd("Qwen3-0.6B, 1 × H100, serve (llm-d)", lambda: _model(QWEN3_06B, "Qwen3-0.6B"), {},
          "64.45", "'1.12 GiB' weights, '5.56 GiB' peak activation, '0.13 GiB' non-torch"),
    _llmd("Qwen3-32B, 1 × H100, serve (llm-d)", lambda: load_preset("qwen3-32b"), {}, "4.45",
          "'61.03 GiB' weights, '5.64 GiB' peak activation, '0.14 GiB' non-torch"),
    _llmd("Qwen3-32B, 2 × H100, TP 2, serve (llm-d)", lambda: load_preset("qwen3-32b"), {"tp": 2},
          "34.49", "'30.59 GiB' weights, '5.64 GiB' peak activation, '0.54 GiB' non-torch"),
    _llmd("Llama-3.3-70B-Instruct-FP8-dynamic, 2 × H100, TP 2, serve (llm-d)",
          lambda: _model(_config("llama-3.1-70b", "FP8 dynamic"),
                         "Llama-3.3-70B-Instruct-FP8-dynamic"), {"tp": 2}, "32.0",
          "'33.88 GiB' weights, '4.84 GiB' peak activation, '0.55 GiB' non-torch (RedHatAI "
          "checkpoint: Llama-3.1-70B's shapes and FP8-dynamic scheme)"),
]

# v0.18 – v0.19: the Triton top-k/top-p sampler (vllm_startup "0.18", whose startup is 0.17's);
# none deducts CUDA graphs.
# The Instruct checkpoints ship max_position_embeddings 32768 (the base models' presets: 131072),
# which sizes vLLM's rope cache.
VLLM_LOGS += [
    StartupLog("Qwen2.5-72B-Instruct, 4 × L40S (g6e.12xlarge), TP 4, serve", "vllm",
               lambda: _model(_config("qwen2.5-72b", max_position_embeddings=32768),
                              "Qwen2.5-72B-Instruct"), GPU_SPECS["L40S 48GB"],
               {"tp": 4, "version": "0.18"}, "5.11",
               "gnosia93/eks-agentic-ai vLLM-on-EKS lesson (vllm/vllm-openai v0.19.0, "
               "--tensor-parallel-size=4 --max-model-len=8192, util 0.90; 'Model loading took "
               "33.98 GiB', 'Available KV cache memory: 5.11 GiB', 67,024 tokens, 8.18x; "
               "find_string id 53041548781)", version="0.19.0",
               notes="the 0.11 rule's sort-based sampler peak (1.41 GiB) gives 4.37 GiB; the "
                     "Triton sampler's (0.63 GiB) gives this"),
    StartupLog("Qwen2.5-7B-Instruct --dtype float16, V100 32GB, LLM class, enforce_eager", "vllm",
               lambda: _model(_config("qwen2.5-7b", max_position_embeddings=32768,
                                      torch_dtype="float16"), "Qwen2.5-7B-Instruct"),
               GPU_SPECS["V100 32GB"],
               {"usage": "llm", "version": "0.18"}, "13.1",
               "gpu-util-interference MLWD collection log (vLLM 0.18.0, LLM(dtype='float16', "
               "enforce_eager=True), max_num_batched_tokens=8192; 'Model loading took 14.25 GiB', "
               "'Available KV cache memory: 13.1 GiB', 245,360 tokens; find_string id 53128951888)",
               version="0.18.0",
               notes="the card is read from the log: FlashAttention 2 refused (compute capability "
                     "below 8) and 14.25 + 13.1 GiB within 0.9 of it: a 32 GB V100"),
    StartupLog("Qwen3-0.6B, RTX 3060 12GB, util 0.6, 8 seqs, 1024 tokens, enforce_eager", "vllm",
               lambda: _model(QWEN3_06B, "Qwen3-0.6B"), GPU_SPECS["RTX 3060 12GB"],
               {"mem_util": "0.6", "max_num_seqs": 8, "max_num_batched_tokens": 1024,
                "version": "0.18"}, "5.68",
               "Retriva implementation notes (vllm/vllm-openai v0.19.0, --gpu-memory-utilization "
               "0.60 --max-model-len 4096 --max-num-seqs 8 --max-num-batched-tokens 1024 "
               "--enforce-eager; 'Model loading took 1.12 GiB', 'Available KV cache memory: 5.68 "
               "GiB', 53,184 tokens; find_string id 62458215816)", version="0.19.0"),
    StartupLog("MiniMax-M2.5 FP8, 4 × H100, TP 4, util 0.95, 10 seqs", "vllm",
               lambda: load_preset("minimax-m2.5"), _H100,
               {"tp": 4, "mem_util": "0.95", "max_num_seqs": 10, "version": "0.18"}, "18.16",
               "MiniMax-M2.5 vLLM service capacity model (vLLM v0.19.1rc1.dev71, 4 × H100 80GB of an "
               "8-GPU box, TP 4, util 0.95, max_num_seqs 10, max_num_batched_tokens 8192, "
               "max_model_len 128000; 'Model loading took 53.75 GiB', 'Available KV cache memory: "
               "18.16 GiB', 307,184 tokens, 2.40x; find_string id 58113078588)", version="0.19.1",
               notes="outside the bar: 53.74 GiB of weights and a 0.62 GiB forward (10 sequences "
                     "sample nothing large) leave 20.32 GiB; the 2.16 GiB more that this run kept "
                     "is its activation + non-torch at TP 4 over NVLink, which no public log "
                     "breaks down (the non-torch figure used is TP 2's 0.55 GiB)"),
]

SGLANG_LOGS = [
    StartupLog("Qwen3-14B, 4 × RTX 4090, TP 4, --mem-fraction-static 0.80", "sglang",
               lambda: _model(QWEN3_14B, "Qwen3-14B"), _4090,
               {"tp": 4, "mem_fraction_static": "0.80"}, "11.38",
               "SGLang commit ebaf86d4 service baseline (id 55529353766): 'KV Cache is allocated. "
               "#tokens: 298447, K size: 5.69 GB, V size: 5.69 GB'", logged_tokens=298447,
               version="ebaf86d4"),
    StartupLog("Qwen3-235B-A22B-FP8, 4 × H100, TP 4, --mem-fraction-static 0.93", "sglang",
               lambda: load_preset("qwen3-235b-a22b", checkpoint="FP8"), GPU_SPECS["H100 80GB"],
               {"tp": 4, "mem_fraction_static": "0.93"}, "16.46",
               "vllm-project/vllm#21348 (SGLang, July 2025): 'KV Cache is allocated. #tokens: "
               "367404, K size: 8.23 GB, V size: 8.23 GB'", logged_tokens=367404,
               version="0.4.9 (July 2025)"),
    StartupLog("Llama-3.1-8B-Instruct, 1 × H100, defaults (SGLang v0.4.1 docs run)", "sglang",
               lambda: load_preset("llama-3.1-8b"), GPU_SPECS["H100 80GB"], {"version": "0.4"},
               "54.26", "SGLang docs notebook 'Sending requests' built 2025-01-23 (find_string id "
               "18084549501): 'Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail "
               "mem=63.72 GB', 'KV Cache is allocated. K size: 27.13 GB, V size: 27.13 GB.', "
               "'max_total_num_tokens=444500'", logged_tokens=444500, version="0.4.1 (Jan 2025)",
               notes="mem_fraction_static 0.88 (TP 1, before PR #10975)"),
    StartupLog("Llama-3.1-8B-Instruct, 1 × H100, --attention-backend fa3 (SGLang v0.4.4 CI)",
               "sglang", lambda: load_preset("llama-3.1-8b"), GPU_SPECS["H100 80GB"],
               {"version": "0.4"}, "54.04",
               "sgl-project/sglang#4760 (2025-03-25, test/srt/test_fa3.py on Llama-3.1-8B-Instruct): "
               "'Load weight end. ... avail mem=63.48 GB, mem usage=15.11 GB', 'KV Cache is "
               "allocated. #tokens: 442750, K size: 27.02 GB, V size: 27.02 GB'",
               logged_tokens=442750, version="0.4.4 (March 2025)",
               notes="FA3 runs on Hopper only; mem_fraction_static 0.88 (TP 1, before PR #10975)"),
    StartupLog("QwQ-32B, 4 × L4 (g6.12xlarge), TP 4, defaults", "sglang",
               lambda: _model(QWQ_32B, "QwQ-32B"), GPU_SPECS["L4 24GB"],
               {"tp": 4, "version": "0.4"}, "2.84",
               "SGLang start on an AWS g6.12xlarge (find_string id 47376055009, March 2025): "
               "server_args 'mem_fraction_static=0.85, ... tp_size=4', 'Load weight begin. avail "
               "mem=21.63 GB', 'Load weight end. ... avail mem=6.09 GB, mem usage=15.54 GB', 'KV "
               "Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB'",
               logged_tokens=46611, version="0.4.3 (March 2025)",
               notes="0.85 is the TP-4 default before PR #10975; PCIe-only L4s (custom "
                     "all-reduce off)"),
    StartupLog("Llama-3-8B-Instruct, 1 × MI300X, sglang.bench_latency defaults (ROCm)", "sglang",
               lambda: load_preset("llama-3-8b"), GPU_SPECS["MI300X 192GB"], {"version": "0.4"},
               "153.37", "AUGMXNT/llm-tracker.info-vault 'MI300X Testing.md' (Hot Aisle 8 × "
               "MI300X, 2024-10-10; find_string id 43425326930): 'python -m sglang.bench_latency "
               "--model-path meta-llama/Meta-Llama-3-8B-Instruct --batch 32 --input-len 256 "
               "--output-len 32', 'Load weight begin. avail mem=191.33 GB', 'Load weight end. "
               "type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=176.33 GB', "
               "'max_total_num_tokens=1256440'", logged_tokens=1256440,
               version="0.3 line (October 2024, ROCm source build)",
               notes="that build printed no K/V sizes: the logged figure is the pool the printed "
                     "#tokens make, 32 · (1,256,440 + 1) · 8 · 128 · 2 · 2 B = 153.37 GiB; "
                     "0.88 is the TP-1 default of the fraction-from-TP rule; ROCm's context left "
                     "191.33 GiB free at start where the CUDA figure gives 191.53"),
]

# SGLang's server_args lines that print the default it derived (nothing given on the command line)
SGLANG_DEFAULT_FRACTIONS = [
    # (nvidia-smi MiB, tp, chunked_prefill_size as printed, build, prefill-graph reserve MiB,
    #  fraction printed, source)
    (81559, 1, 8192, "0.5", 0.0, "0.835", "SGLang server_args lines 'mem_fraction_static=0.835, "
     "..., chunked_prefill_size=8192' on an H100 (ids 15094997619, 15887956972)"),
    (143771, 1, 8192, "0.5", 0.0, "0.907", "SGLang offline-engine docs notebook built 2026-02-27 "
     "on an H200 (CUDA-graph capture at avail_mem=135.47 GB, enable_piecewise_cuda_graph=False): "
     "'mem_fraction_static=0.907, ..., chunked_prefill_size=8192' (ids 15663054270, 15396661520, "
     "15168560520); the docs patch lowers cuda_graph_max_bs to 4 after the default was derived "
     "with 256"),
    (24564, 2, 4096, "0.5", 0.0, "0.717", "sgl-project/sglang#12496 (November 2025): "
     "Gemma-3-12B on two RTX 4090s with chunked_prefill_size=4096 given printed "
     "'mem_fraction_static=0.717' (no multimodal cut: Gemma 3 is served text-only by default)"),
    # main: the prefill graph is on by default (disable_piecewise_cuda_graph=False) and its 58
    # captured sizes up to 8192 tokens reserve 58 · 8 = 464 MiB more
    (143771, 1, 8192, "main", 464.0, "0.903", "SGLang offline-engine docs notebook built "
     "2026-03-23 on an H200 (piecewise capture at avail_mem=117.50 GB, 58 sizes, "
     "disable_piecewise_cuda_graph=False): 'mem_fraction_static=0.903, ..., "
     "chunked_prefill_size=8192' (id 52260813497; the same in ids 53140717212, 53255585247)"),
    (81559, 1, 8192, "main", 464.0, "0.83", "SGLang offline-engine docs notebook built 2026-03-04 "
     "on an 80 GB card (the H100's 81,559 MiB and the A100's 81,920 both give 0.830; 0.835 and "
     "0.836 without the prefill graph): 'mem_fraction_static=0.83, ..., chunked_prefill_size=8192, "
     "..., disable_piecewise_cuda_graph=False' (id 53560656937)"),
]


def tolerance(logged_bytes: int) -> int:
    """The issue's bar: within max(1.5 %, 0.2 GiB) of the logged figure."""
    return max(abs(logged_bytes) * 15 // 1000, (1 << 30) // 5)
