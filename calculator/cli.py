"""``python -m calculator``: KV-cache bytes, comparison tables and capacity from the shell.

Bad input exits with status 2 and one line on stderr naming the problem, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from .capacity import plan
from .cli_common import UsageError, weights_json  # UsageError: measure/cli.py imports it here
from .engines import ENGINES, transformers_cache_bytes
from .engines.transformers_cache import TRANSFORMERS_VERSION
from .engines.vllm import DEFAULT_MAX_NUM_BATCHED_TOKENS as VLLM_BATCHED_TOKENS
from .engines.vllm import KV_CACHE_DTYPES as VLLM_KV_DTYPES
from .engines.vllm import VLLM_VERSION
from .engines.llamacpp import CACHE_TYPES as LLAMACPP_TYPES
from .engines.llamacpp import MLA_MODES as LLAMACPP_MLA
from .gpus import GPUS, gpu_memory
from .load import model_from_config_file
from .specs import ModelSpec
from .sweep import sweep
from .totals import Breakdown, kv_cache_bytes
from .units import format_bytes, parse_count, parse_tokens
from .variants import as_variant


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage lines; one line is enough
        raise UsageError(message)


def positive_int(text: str, hi: int = 1 << 40) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]!r}") from None
    if not 1 <= value <= hi:
        raise argparse.ArgumentTypeError(f"must be between 1 and {hi:,}, got {text[:40]}")
    return value


def dim_int(text: str) -> int:
    """A size of one model or engine dimension (heads, ranks, tokens per batch): 1 … 2**24."""
    return positive_int(text, 1 << 24)


def token_count(text: str) -> int:
    try:
        return parse_tokens(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("context: ")) from None


def param_count(text: str) -> int:
    try:
        return parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("params: ")) from None


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m calculator", description="Exact KV-cache memory for LLMs.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="model preset name (see --list-presets)")
    src.add_argument("--config", help="path to a Hugging Face config.json")
    src.add_argument("--hf-model", metavar="ORG/NAME[@REV]",
                     help="a Hugging Face model id: config.json and exact weight bytes from the Hub "
                          "(HF_TOKEN for private or gated models; HF_HUB_OFFLINE=1 uses the cache)")
    p.add_argument("--list-presets", action="store_true", help="list preset names and exit")
    p.add_argument("--name", help="display name (default: the preset's, or the config's own name)")
    p.add_argument("--params", type=param_count,
                   help="parameter count for capacity, e.g. 8.03e9, 70B, 1.2T (overrides the model's)")
    p.add_argument("--context", action="append", type=token_count, metavar="N",
                   help="tokens per sequence; repeatable; 128k = 131072, 1M = 1048576")
    p.add_argument("--batch", type=positive_int, default=1, help="concurrent sequences (default 1)")
    p.add_argument("--kv-dtype", help="bf16 (default), fp16, fp32, fp8, int8, q8_0, q4_0, int4_g128 ...")
    p.add_argument("--tp", type=positive_int, default=None, help="tensor-parallel ranks (default 1)")
    p.add_argument("--pp", type=positive_int, default=1, help="pipeline-parallel stages (default 1)")
    p.add_argument("--layout", choices=("theoretical", "paged"), default="theoretical")
    p.add_argument("--block-size", type=dim_int, default=16, help="paged block size (default 16)")
    p.add_argument("--include-mtp", action="store_true", help="count MTP / next-n layers too")
    p.add_argument("--attention", choices=("mha", "mqa", "gqa", "mla"),
                   help="re-express the model's attention as this variant")
    p.add_argument("--kv-heads", type=dim_int, help="KV heads for --attention gqa")
    p.add_argument("--kv-lora-rank", type=dim_int, default=512, help="d_c for --attention mla")
    p.add_argument("--rope-head-dim", type=dim_int, default=64, help="d_r for --attention mla")
    p.add_argument("--engine", choices=ENGINES, default="theoretical",
                   help="theoretical (default); transformers: the StaticCache transformers "
                        f"{TRANSFORMERS_VERSION} allocates for max_cache_len = --context (DeepSeek-V4: its "
                        "DynamicCache right after a --context-token prompt); vllm: "
                        f"the block pool {VLLM_VERSION} builds (max_model_len = --context); sglang: "
                        "its token pool; llama.cpp: the caches llama.cpp allocates for -c = --context")
    p.add_argument("--kv-memory", metavar="SIZE",
                   help="with --engine vllm/sglang/llama.cpp: memory the engine has for KV per GPU "
                        "(37.5GiB or bytes, as vLLM's 'Available KV cache memory'): tokens, blocks, "
                        "concurrency (llama.cpp: the largest -c that fits)")
    p.add_argument("--kv-cache-dtype", default="auto",
                   help=f"with --engine vllm: {', '.join(VLLM_KV_DTYPES)}; sglang: auto, fp8_e5m2, "
                        "fp8_e4m3, bfloat16 (DeepSeek-V4 with --device npu) (default auto)")
    p.add_argument("--page-size", type=dim_int, default=1,
                   help="with --engine sglang: tokens per page (default 1)")
    p.add_argument("--swa-full-tokens-ratio", type=float, default=0.8,
                   help="with --engine sglang: SWA pool tokens per full-pool token, for gpt-oss, "
                        "Llama 4, MiMo-V2 and other hybrid-SWA models (default 0.8)")
    p.add_argument("--max-running-requests", type=dim_int, default=None,
                   help="with --engine sglang, DeepSeek-V4: the request slots whose HCA compressor "
                        "state SGLang sets aside before its pools (default 256, SGLang's V4 default)")
    p.add_argument("--max-mamba-cache-size", type=dim_int, default=None,
                   help="with --engine sglang, hybrid state models (Qwen3-Next, Qwen3.5, NemotronH, "
                        "Granite 4): SGLang's Mamba state slots (default: the split of "
                        "--mamba-full-memory-ratio)")
    p.add_argument("--mamba-full-memory-ratio", type=float, default=0.9,
                   help="with --engine sglang, hybrid state models: Mamba state memory per byte "
                        "of the full layers' token pool (SGLang's default 0.9)")
    p.add_argument("--device", choices=("cuda", "npu"), default="cuda",
                   help="with --engine sglang, DeepSeek-V4: SGLang's --device (npu: Ascend, whose "
                        "V4 defaults are page 128 and a bfloat16 cache; default cuda)")
    p.add_argument("--log-style", choices=("current", "legacy", "v0.4"), default="current",
                   help="with --engine sglang --format log: current SGLang lines (with 'dtype: "
                        "torch.bfloat16,'), legacy (older builds, without it) or v0.4 (v0.4.1: no "
                        "#tokens; also with --engine-version 0.4); with --engine "
                        "llama.cpp: legacy prints llama_kv_cache_unified names")
    p.add_argument("--llamacpp-build", choices=("current", "pre-16812"), default="current",
                   help="with --engine llama.cpp: current sizes (padded to 256), or builds before "
                        "PR #16812 (Oct 2025: padded to 256 with flash attention, 32 without)")
    p.add_argument("--max-num-batched-tokens", type=dim_int, default=None,
                   help=f"with --engine vllm: tokens per step; sizes sliding-window blocks and the "
                        f"profiling run (default: vLLM's for --gpu and --usage, else "
                        f"{VLLM_BATCHED_TOKENS})")
    p.add_argument("--max-num-seqs", type=dim_int, default=None,
                   help="with --engine vllm --gpu: requests per step, sizes the sampler's profiling "
                        "run (default: vLLM's for the GPU, 1024 or 256)")
    p.add_argument("--num-draft-layers", type=int, default=0,
                   help="with --engine vllm: attention layers of a speculative drafter sharing the "
                        "pool (EAGLE / EAGLE-3: 1; MTP: the model's next-n layers; default 0)")
    p.add_argument("--usage", choices=("serve", "llm", "engine"), default="serve",
                   help="with --engine vllm --gpu: `vllm serve` (default), the offline LLM class, "
                        "or an engine built from (Async)EngineArgs (2048 tokens, 128 requests); "
                        "their batch defaults differ")
    p.add_argument("--sampler", choices=("native", "flashinfer"), default="native",
                   help="with --engine vllm --gpu: the top-k/top-p sampler vLLM profiles: native "
                        "(pip installs without FlashInfer, default) or flashinfer (the "
                        "vllm/vllm-openai image)")
    p.add_argument("--skip-mm-profiling", action="store_true",
                   help="with --engine vllm --gpu, a multimodal model: vLLM started with "
                        "--skip-mm-profiling (no encoder pass in its profile; without it the "
                        "predicted KV memory is an upper bound by that pass)")
    p.add_argument("--language-model-only", action="store_true",
                   help="with --engine vllm --gpu, a multimodal model: vLLM started with "
                        "--language-model-only (or every --limit-mm-per-prompt at 0; vLLM 0.17 "
                        "on): no vision tower loaded, no encoder pass")
    p.add_argument("--engine-version", default=None,
                   help="with --engine vllm: the release (0.19.1, v0.22.0, main) or the build "
                        "whose rules apply: 0.10, 0.11 (v0.11 – "
                        "v0.16), 0.17 (v0.17: Triton top-k/top-p sampler), 0.18 (v0.18 – v0.19: "
                        "MLA takes its backend's block size; the default, the newest whose every "
                        "startup term is predicted), 0.20, 0.21, 0.22 (also "
                        "deducts its CUDA-graph estimate, see --cudagraph-memory) or 0.27 "
                        "(v0.27 on and main; pool only, with --kv-memory: sliding layers keep "
                        "async scheduling's in-flight blocks, tokens = concurrency × max_model_len; "
                        "v0.23 – v0.26 run 0.23: the same, full attention only); sglang: the "
                        "build whose "
                        "default --mem-fraction-static applies: 0.4 (by TP: v0.3 and v0.4, "
                        "before PR #10975), 0.5 (from the card, late 2025 to Feb 2026) or main "
                        "(default: the prefill CUDA graph's reserve too, late 2026)")
    p.add_argument("--enable-prefix-caching", action="store_true",
                   help="with --engine vllm, a hybrid model (gated DeltaNet, short conv): vLLM "
                        "started with --enable-prefix-caching, whose 'align' mamba cache mode "
                        "keeps two state pages per request (builds 0.17 – 0.22; other models "
                        "cache prefixes by default and their pool does not change)")
    p.add_argument("--no-async-scheduling", action="store_true",
                   help="with --engine vllm --engine-version 0.27: vLLM started with "
                        "--no-async-scheduling (one batch in flight instead of two)")
    p.add_argument("--cudagraph-memory", metavar="SIZE",
                   help="with --engine vllm --engine-version 0.22 --gpu: the CUDA-graph estimate "
                        "vLLM deducts before the pool ('Estimated CUDA graph memory: X GiB' in its "
                        "log; 0 with --enforce-eager or "
                        "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0); without it the predicted KV "
                        "memory is an upper bound by that much")
    p.add_argument("--non-torch", metavar="SIZE",
                   help="with --engine vllm/sglang --gpu: memory outside PyTorch (CUDA context, "
                        "NCCL) instead of the cited default for the GPU and TP")
    p.add_argument("--enable-expert-parallel", action="store_true",
                   help="with --engine vllm: routed experts handed out whole, experts / tp per GPU "
                        "(changes the weights per GPU, not the KV pool)")
    p.add_argument("--parallel", "-np", type=dim_int, default=1,
                   help="with --engine llama.cpp: sequences (n_seq_max, default 1)")
    p.add_argument("--kv-unified", action="store_true",
                   help="with --engine llama.cpp: one KV stream shared by every sequence")
    p.add_argument("--cache-type-k", "-ctk", default="f16",
                   help=f"with --engine llama.cpp: {', '.join(LLAMACPP_TYPES)} (default f16)")
    p.add_argument("--cache-type-v", "-ctv", default="f16", help="with --engine llama.cpp: as -ctk")
    p.add_argument("--batch-size", "-b", type=dim_int, default=2048,
                   help="with --engine llama.cpp: logical batch n_batch (default 2048)")
    p.add_argument("--ubatch-size", "-ub", type=dim_int, default=512,
                   help="with --engine llama.cpp: physical batch n_ubatch (default 512; sizes the SWA cache)")
    p.add_argument("--swa-full", action="store_true",
                   help="with --engine llama.cpp: full-size SWA cache")
    p.add_argument("--no-flash-attn", action="store_true",
                   help="with --engine llama.cpp: -fa off (V padded to the widest layer; no quantized V)")
    p.add_argument("--mla-cache", choices=LLAMACPP_MLA, default="latent",
                   help="with --engine llama.cpp: latent (current: K only), latent+v (older builds), "
                        "mha (GGUFs converted without MLA tensors)")
    p.add_argument("--format", choices=("table", "csv", "json", "log"), default="table",
                   help="log (with --engine vllm/sglang --kv-memory, or llama.cpp): the lines the "
                        "engine prints")
    p.add_argument("--unit", choices=("GiB", "GB"), default="GiB", help="unit of formatted sizes")
    p.add_argument("--max-context", action="store_true", help="longest context at --batch that fits")
    p.add_argument("--max-batch", action="store_true", help="most sequences at --context that fit")
    p.add_argument("--gpu", help=f"GPU for capacity: {', '.join(GPUS)}, or a size like 96GiB")
    p.add_argument("--gpus", type=positive_int, default=1, help="GPUs holding one replica (= tp × pp)")
    p.add_argument("--mem-util", default=None,
                   help="fraction of GPU memory usable (default 0.9; with --engine vllm "
                        "--engine-version 0.22 vLLM's 0.92; with --engine sglang "
                        "--mem-fraction-static, default SGLang's own rule for the GPU)")
    p.add_argument("--weight-dtype", help="price the weights as parameters × this format (bf16, fp8, "
                   "int4_g128, mxfp4, nvfp4 ...) instead of the checkpoint's own bytes")
    p.add_argument("--checkpoint", metavar="NAME",
                   help="with --preset: another published checkpoint of the model (e.g. 'FP8', "
                        "'AWQ int4'; see --list-checkpoints)")
    p.add_argument("--list-checkpoints", action="store_true",
                   help="with --preset: list the preset's published checkpoints and exit")
    return p


def load_model(args: argparse.Namespace) -> ModelSpec:
    if args.checkpoint is not None and not args.preset:
        raise UsageError("--checkpoint: only with --preset (a config.json names its own "
                         "quantization_config)")
    if args.preset:
        from model_presets import load_preset
        model = load_preset(args.preset, include_mtp=args.include_mtp, checkpoint=args.checkpoint)
    elif args.config:
        model = model_from_config_file(args.config, include_mtp=args.include_mtp)
    elif args.hf_model:
        from .hub import model_from_hub  # the only network access, and only when asked for
        model, _ = model_from_hub(args.hf_model, include_mtp=args.include_mtp)
    else:
        raise UsageError("give --preset NAME, --config PATH or --hf-model ORG/NAME (or --list-presets)")
    if args.name is not None:
        if not args.name.strip() or len(args.name) > 200:
            raise UsageError("--name: give 1 to 200 characters")
        model = replace(model, name=args.name.strip())
    if args.params is not None:  # a stated count replaces any checkpoint bytes too
        model = replace(model, param_count=args.params, weight_bytes=None)
    if args.attention:
        model = as_variant(model, args.attention, kv_heads=args.kv_heads,
                           kv_lora_rank=args.kv_lora_rank, rope_head_dim=args.rope_head_dim)
    elif args.kv_heads:
        raise UsageError("--kv-heads needs --attention gqa")
    return model


def breakdown_json(b: Breakdown, engine: str = "theoretical", model: ModelSpec | None = None) -> dict:
    row = {"model": b.model, "engine": engine, "context": b.context, "batch": b.batch, "kv_dtype": b.dtype,
           "layout": b.layout, "tp": b.tp, "pp": b.pp, "kv_bytes": b.kv_bytes,
           "state_bytes": b.state_bytes, "total_bytes": b.total_bytes,
           "per_gpu_kv_bytes": b.per_gpu_kv_bytes, "per_gpu_total_bytes": b.per_gpu_total_bytes,
           "groups": [g.__dict__ for g in b.groups]}
    if model is None:
        return row
    return {**row, "beyond_model_max_context": bool(model.max_context and b.context > model.max_context),
            **weights_json(model, b.tp, b.pp)}


def _table(model: ModelSpec, rows: list[Breakdown], unit: str) -> str:
    known = f"{model.max_context:,}" if model.max_context else "unknown"
    lines = [f"{model.name}: {model.describe()}, {model.num_layers} layers, max context {known}"]
    for g in rows[0].groups:
        lines.append(f"  {g.layers:>3} × {g.label}")
    head = f"{'context':>12} {'batch':>6} {'dtype':>9} {'KV bytes':>18} {'state bytes':>14} {'total':>12} {'per GPU':>12}"
    lines.append(head)
    beyond = False
    for b in rows:
        mark = " *" if model.max_context and b.context > model.max_context else ""
        beyond = beyond or bool(mark)
        lines.append(f"{b.context:>12,} {b.batch:>6} {b.dtype:>9} {b.kv_bytes:>18,} "
                     f"{b.state_bytes:>14,} {format_bytes(b.total_bytes, unit):>12} "
                     f"{format_bytes(b.per_gpu_total_bytes, unit):>12}{mark}")
    if beyond:
        lines.append(f"* beyond the model's max context ({model.max_context:,} tokens): the cache "
                     "arithmetic holds, the model was not trained that far")
    return "\n".join(lines)


def _capacity(args: argparse.Namespace, model: ModelSpec, tp: int | None) -> str:
    if not args.gpu:
        raise UsageError("--max-context / --max-batch need --gpu NAME (and --gpus N)")
    cap = plan(model, gpu_bytes=gpu_memory(args.gpu), gpus=args.gpus, tp=tp, pp=args.pp,
               mem_util=args.mem_util or "0.9", weight_dtype=args.weight_dtype, kv_dtype=args.kv_dtype,
               layout=args.layout, block_size=args.block_size)
    if args.format == "json":
        return json.dumps(_capacity_json(args, model, cap), indent=2)
    out = [f"{model.name} on {args.gpus} × {args.gpu} (tp={cap.tp}, pp={cap.pp}): "
           f"budget {format_bytes(cap.budget_per_gpu, args.unit)}/GPU, weights "
           f"{format_bytes(cap.weights_per_gpu, args.unit)}/GPU, free "
           f"{format_bytes(cap.free_per_gpu, args.unit)}/GPU",
           f"weights: {cap.weights_bytes:,} bytes from {cap.weights_from}"]
    if not cap.weights_fit:
        out.append("weights alone do not fit: add GPUs, quantize the weights, or raise --mem-util")
        return "\n".join(out)
    if args.max_context:
        mc = cap.max_context(args.batch)
        if mc is None and model.max_context:
            out.append(f"max context at batch {args.batch}: {model.max_context:,} tokens (the "
                       "model's max; sliding windows cap the cache, so memory allows any length)")
        elif mc is None:
            out.append(f"max context at batch {args.batch}: unbounded (sliding windows cap the cache)")
        else:
            beyond = (" (beyond the model's max context)"
                      if model.max_context and mc > model.max_context else "")
            out.append(f"max context at batch {args.batch}: {mc:,} tokens{beyond}")
    if args.max_batch:
        for c in args.context or [default_context(model)]:
            out.append(f"max batch at context {c:,}: {cap.max_batch(c):,} sequences")
    return "\n".join(out)


def _capacity_json(args: argparse.Namespace, model: ModelSpec, cap) -> dict:
    row = {"model": model.name, "gpu": args.gpu, "gpus": cap.gpus, "tp": cap.tp, "pp": cap.pp,
           "mem_util": args.mem_util or "0.9", "kv_dtype": cap.kv_dtype, "layout": cap.layout,
           "gpu_bytes": cap.gpu_bytes, "budget_bytes_per_gpu": cap.budget_per_gpu,
           "param_count": model.param_count, "weight_bytes": cap.weights_bytes,
           "weight_bytes_per_gpu": cap.weights_per_gpu, "weights_from": cap.weights_from,
           "free_bytes_per_gpu": cap.free_per_gpu}
    if cap.weights_fit and args.max_context:
        row.update(batch=args.batch, max_context=cap.max_context(args.batch))
    if cap.weights_fit and args.max_batch:
        row["max_batch"] = {str(c): cap.max_batch(c) for c in args.context or [default_context(model)]}
    return row


def default_context(model: ModelSpec) -> int:
    if model.max_context is None:
        raise UsageError("context: the config gives no max_position_embeddings; pass --context N")
    return model.max_context


def _transformers(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine transformers: StaticCache bytes (DeepSeek-V4: its DynamicCache after the prompt; no
    TP/PP, no paging, the compute dtype)."""
    if (args.tp or 1) != 1 or args.pp != 1:
        raise UsageError("--tp/--pp: not available with --engine transformers (one device's StaticCache)")
    if args.layout != "theoretical":
        raise UsageError("--layout: transformers' StaticCache is contiguous; drop --layout")
    if args.format == "csv":
        raise UsageError("--format: csv is for the theoretical engine; use table or json")
    dtype = args.kv_dtype_given  # None: the model's own compute dtype, as transformers runs it
    rows = [transformers_cache_bytes(model, c, args.batch, dtype) for c in contexts]
    if args.format == "json":
        data = [breakdown_json(b, "transformers", model) for b in rows]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    return _table(model, rows, args.unit)


def run(argv: list[str] | None) -> str:
    args = build_parser().parse_args(argv)
    args.kv_dtype_given, args.kv_dtype = args.kv_dtype, args.kv_dtype or "bf16"
    if args.list_presets:
        from model_presets import list_presets
        return "\n".join(list_presets())
    if args.list_checkpoints:
        if not args.preset:
            raise UsageError("--list-checkpoints: needs --preset NAME")
        from model_presets import preset_checkpoints
        return "\n".join(preset_checkpoints(args.preset))
    if args.enable_prefix_caching and args.engine != "vllm":
        raise UsageError("--enable-prefix-caching: a vLLM flag; add --engine vllm")
    if args.no_async_scheduling and args.engine != "vllm":
        raise UsageError("--no-async-scheduling: a vLLM flag; add --engine vllm --engine-version 0.27")
    if args.skip_mm_profiling and args.engine != "vllm":
        raise UsageError("--skip-mm-profiling: a vLLM flag; add --engine vllm --gpu NAME")
    if args.language_model_only and args.engine != "vllm":
        raise UsageError("--language-model-only: a vLLM flag; add --engine vllm --gpu NAME")
    if args.cudagraph_memory is not None and args.engine != "vllm":
        raise UsageError("--cudagraph-memory: a vLLM figure; add --engine vllm "
                         "--engine-version 0.22 --gpu NAME")
    if args.max_running_requests is not None and args.engine != "sglang":
        raise UsageError("--max-running-requests: an SGLang flag; add --engine sglang")
    if args.device != "cuda" and args.engine != "sglang":
        raise UsageError("--device: an SGLang flag; add --engine sglang")
    if (args.max_mamba_cache_size is not None or args.mamba_full_memory_ratio != 0.9) and \
            args.engine != "sglang":
        raise UsageError("--max-mamba-cache-size / --mamba-full-memory-ratio: SGLang flags; add "
                         "--engine sglang")
    model = load_model(args)
    if (args.max_context or args.max_batch) and args.engine not in ("vllm", "sglang"):
        return _capacity(args, model, args.tp)
    tp = args.tp or 1
    from .cli_engines import engine_output  # vllm, sglang, llama.cpp: their own knobs and lines
    if args.engine == "llama.cpp":  # no --context: -c 0, the model's own n_ctx_train
        return engine_output(args, model, args.context)
    if args.engine in ("vllm", "sglang"):
        return engine_output(args, model, args.context or [default_context(model)])
    contexts = args.context or [default_context(model)]
    if args.kv_memory is not None or args.format == "log":
        raise UsageError("--kv-memory/--format log: need --engine vllm, sglang or llama.cpp")
    if args.engine == "transformers":
        return _transformers(args, model, contexts)
    if args.format == "csv":
        return sweep([model], contexts, batches=[args.batch], dtypes=[args.kv_dtype], tp=tp,
                     pp=args.pp, layout=args.layout, block_size=args.block_size,
                     unit=args.unit).to_csv(index=False).rstrip("\n")
    rows = [kv_cache_bytes(model, c, args.batch, args.kv_dtype, tp, args.pp, args.layout,
                           args.block_size) for c in contexts]
    if args.format == "json":
        data = [breakdown_json(b, model=model) for b in rows]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    return _table(model, rows, args.unit)


def main(argv: list[str] | None = None) -> int:
    try:
        print(run(argv))
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
