"""The CLI's engine modes (``--engine vllm | sglang | llama.cpp``): each engine's knobs, its
tables and JSON rows, and the lines it logs (``--format log``)."""
from __future__ import annotations

import argparse
import json

from .cli_common import UsageError, weights_json
from .gpus import load_oom
from .engines.llamacpp import LLAMACPP_VERSION
from .specs import ModelSpec
from .units import format_bytes


def engine_output(args: argparse.Namespace, model: ModelSpec, contexts: list[int] | None) -> str:
    """The output of ``--engine`` vllm, sglang or llama.cpp for ``contexts`` (llama.cpp: None
    means -c 0, the model's own n_ctx_train, as llama.cpp reads it)."""
    if args.engine == "vllm":
        return _vllm(args, model, contexts)
    if args.engine == "sglang":
        return _sglang(args, model, contexts)
    return _llamacpp(args, model, contexts)


def pool_label(version: str) -> str:
    """Which vLLM pool rules a table was built with."""
    from .engines.vllm import IN_FLIGHT_FROM, rules_label
    detail = (" (async scheduling's in-flight blocks, tokens = concurrency × max_model_len)"
              if version == IN_FLIGHT_FROM else "")
    return rules_label(version) + detail


def vllm_json(p, batch: int, tp: int, args) -> dict:
    row = {"model": p.model, "engine": "vllm", "engine_version": p.version,
           "in_flight_tokens": p.in_flight_tokens,
           "context": p.max_model_len, "batch": batch, "tp": tp,
           "kv_cache_dtype": args.kv_cache_dtype, "block_size": p.block_size,
           "page_size_bytes": p.page_size, "layers_per_group": p.group_size,
           "kv_groups": len(p.groups), "padding_layers": p.padding_layers,
           "blocks_per_request": p.blocks_per_request,
           "total_bytes_per_gpu": p.request_bytes(batch)}
    if p.kv_memory is not None:
        row.update(kv_memory=p.kv_memory, num_blocks=p.num_blocks, engine_tokens=p.num_tokens,
                   max_concurrency=p.max_concurrency)
    return row


def vllm_weights_json(model: ModelSpec, tp: int, expert_parallel: bool = False,
                      build: str = "0.11", max_num_batched_tokens: int = 8192) -> dict:
    """Weight fields of a vLLM row: the checkpoint, and what one GPU allocates for it
    ("Model loading took X GiB") where the shapes and format are modelled."""
    from .engines.vllm_weights import vllm_load
    if model.config is None or model.weight_bytes is None:
        return weights_json(model, tp)
    try:
        load = vllm_load(model.config, tp=tp, expert_parallel=expert_parallel, build=build,
                         max_num_batched_tokens=max_num_batched_tokens)
    except ValueError as exc:
        return {**weights_json(model, tp), "model_loading_note": str(exc)}
    return {**weights_json(model, tp, per_gpu=load.allocated), "model_loading_line": load.log_line}


ENGINE_FLAGS = ("tp", "block-size", "max-num-batched-tokens", "num-draft-layers", "mem-util", "gpu", "non-torch", "page-size", "kv-cache-dtype", "max-num-batched-tokens",
                "kv-memory", "parallel", "cache-type-k", "cache-type-v", "batch-size", "ubatch-size",
                "context", "mla-cache", "swa-full-tokens-ratio", "max-running-requests", "device", "max-mamba-cache-size",
                "mamba-full-memory-ratio", "log-style",
                "engine-version", "enable-prefix-caching",
                "llamacpp-build")


def _engine_call(fn, *args, **kwargs):
    """Run an engine rule; its ``ValueError`` on a knob becomes a one-line error naming the flag."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        field, _, rest = str(exc).partition(": ")
        raise UsageError(f"--{field}: {rest}" if field in ENGINE_FLAGS else str(exc)) from exc


def _engine_memory(args: argparse.Namespace) -> int | None:
    """--kv-memory in bytes (None when not given); csv is for the theoretical engine only."""
    from .gpus import parse_memory
    if args.format == "csv":
        raise UsageError("--format: csv is for the theoretical engine; use table, json or log")
    return None if args.kv_memory is None else parse_memory(args.kv_memory, "--kv-memory")


def _vllm(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine vllm: the pool vLLM builds per GPU; with --kv-memory, or with --gpu (the memory
    predicted from vLLM's startup), its blocks, tokens, concurrency and log lines."""
    from .cli_startup import startup_json, vllm_max_context, vllm_startup, vllm_version
    from .engines import vllm_plan
    from .engines.vllm import DEFAULT_MAX_NUM_BATCHED_TOKENS
    if args.pp != 1:
        raise UsageError("--pp: the vllm engine mode models one pipeline stage; drop --pp")
    if args.layout != "theoretical" or args.kv_dtype_given:
        raise UsageError("--layout/--kv-dtype: vLLM pages its cache; use --block-size and "
                         "--kv-cache-dtype")
    memory = _engine_memory(args)
    tp = _tp(args)
    version = vllm_version(args)
    startup = vllm_startup(args, model, tp) if memory is None else None
    if startup is not None:
        memory = startup.available
    if args.format == "log" and memory is None:
        raise UsageError("--format log: vLLM prints its KV lines for a given memory; add --gpu "
                         "NAME (predicted) or --kv-memory")
    if args.format == "log" and startup is not None and startup.cudagraph_missing:
        raise UsageError("--format log: vLLM 0.22 prints its KV memory after deducting its "
                         "CUDA-graph estimate, which is measured at startup, not predicted; add "
                         "--cudagraph-memory (its 'Estimated CUDA graph memory', or 0 with "
                         "--enforce-eager)")
    if (args.max_context or args.max_batch) and memory is None:
        raise UsageError("--max-context / --max-batch: need --gpu NAME (or --kv-memory)")
    batched = (startup.max_num_batched_tokens if startup is not None
               else args.max_num_batched_tokens or DEFAULT_MAX_NUM_BATCHED_TOKENS)
    knobs = dict(block_size=args.block_size, kv_cache_dtype=args.kv_cache_dtype, tp=tp,
                 max_num_batched_tokens=batched, draft_layers=args.num_draft_layers,
                 gpu=args.gpu, version=version, async_scheduling=not args.no_async_scheduling,
                 prefix_caching=args.enable_prefix_caching)
    fits = memory is not None and memory > 0
    plans = [_engine_call(vllm_plan, model, max_model_len=c, kv_memory=memory if fits else None,
                          **knobs) for c in contexts]
    if args.format == "log":
        # vLLM forces an MLA block size while it builds the config, before it loads anything;
        # the hybrid block lines come before or after the load by build (VllmPlan.head_lines)
        if startup is not None and load_oom(startup.weights, startup.gpu_total):
            # torch fails inside the load: nothing after it is printed (VllmStartup.log_lines)
            return "\n".join(plans[0].head_lines([]) + startup.log_lines())
        lines = plans[0].head_lines(startup.log_lines() if startup is not None else [])
        if not fits:
            return "\n".join(lines + [NO_MEMORY])
        return "\n".join(lines + [line for p in plans for line in p.pool_lines()])
    extra = {}
    if fits and args.max_batch:
        extra["max_batch"] = {str(p.max_model_len): int(p.max_concurrency) for p in plans}
    if fits and args.max_context:
        extra.update(batch=args.batch, max_context=_engine_call(
            vllm_max_context, model, memory, args.batch, **knobs))
    if args.format == "json":
        weights = vllm_weights_json(model, tp, args.enable_expert_parallel, version, batched)
        head = startup_json(startup) if startup is not None else {}
        if memory is not None and startup is None:
            head["kv_memory_bytes"] = memory
        data = [{**vllm_json(p, args.batch, tp, args), **weights, **head, **extra} for p in plans]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    out = [f"{model.name} · {pool_label(version)} · block {plans[0].block_size} · kv "
           f"{args.kv_cache_dtype} · tp {tp}"]
    if startup is not None:
        out += _startup_table(startup, args.unit)
    else:
        weights = vllm_weights_json(model, tp, args.enable_expert_parallel, version, batched)
        if "model_loading_line" in weights:
            out.append(f"weights per GPU {weights['weight_bytes_per_gpu']:,} B as vLLM allocates "
                       f"them (\"{weights['model_loading_line']}\")")
    for p in plans:
        kinds = ", ".join(f"{s.label()} × {n}" for s, n in (p.uniform_kinds or p.groups))
        out.append(f"max_model_len {p.max_model_len:,}: {len(p.groups)} KV group(s) of "
                   f"{p.group_size} layers [{kinds}]; page {p.page_size:,} B; "
                   f"{p.blocks_per_request:,} blocks per request; {args.batch} request(s) = "
                   f"{format_bytes(p.request_bytes(args.batch), args.unit)} per GPU"
                   + (f"; {p.padding_layers} padding layers" if p.padding_layers else ""))
        if p.kv_memory is not None:
            out.append(f"  {format_bytes(p.kv_memory, args.unit)} for KV → {p.num_blocks:,} blocks")
            out += ["  " + line for line in p.log_lines()]
    if memory is not None and not fits:
        oom = load_oom(startup.weights, startup.gpu_total) if startup is not None else ""
        out.append(f"  {oom or NO_MEMORY}")
    for c, n in extra.get("max_batch", {}).items():
        out.append(f"max batch at max_model_len {int(c):,}: {n:,} requests")
    if "max_context" in extra:
        mc = extra["max_context"]
        out.append(f"max context at batch {args.batch}: "
                   + ("not even 1 token" if mc is None else f"{mc:,} tokens"))
    return "\n".join(out)


def _tp(args: argparse.Namespace) -> int:
    """--tp, else --gpus (one replica's GPUs, all tensor parallel), else 1."""
    if args.tp is not None and args.gpus not in (1, args.tp):
        raise UsageError(f"--gpus: {args.gpus} GPUs with --tp {args.tp} would need pipeline "
                         "stages; the vllm and sglang modes model one stage (--gpus = --tp)")
    return args.tp or args.gpus


NO_MEMORY = ("ValueError: No available memory for the cache blocks. Try increasing "
             "`gpu_memory_utilization` when initializing the engine.")


def _startup_table(startup, unit: str) -> list[str]:
    """One GPU's memory at startup, one line per term (table format)."""
    from .units import format_bytes as fb
    b = startup.breakdown()
    note = []
    if hasattr(startup, "max_num_seqs"):
        note = [f"  note: KV is an {n}" for n in (startup.mm_note, startup.dsa_note) if n]
        if startup.cudagraph_note:
            note.append(f"  note: KV is an {startup.cudagraph_note} (--cudagraph-memory)")
        runner = ", V2 model runner" if startup.runner == "V2" else ""
        head = (f"{startup.gpu}: {fb(startup.gpu_total, unit)} reported by the driver × "
                f"gpu_memory_utilization {float(startup.mem_util):g} = "
                f"{fb(int(startup.requested), unit)} requested (vLLM {startup.version}{runner}, "
                f"{startup.sampler} sampler, max_num_batched_tokens "
                f"{startup.max_num_batched_tokens:,}, max_num_seqs {startup.max_num_seqs:,})")
    else:
        head = (f"{startup.gpu}: {fb(startup.gpu_total, unit)} reported by the driver; "
                f"mem_fraction_static {float(startup.mem_fraction_static):g}"
                + ("" if startup.fraction_given else " (SGLang's default for this GPU and TP)"))
    return [head,
            f"  weights {fb(b['weight_bytes_per_gpu'], unit)} · activation peak "
            f"{fb(b['activation_bytes'], unit)} · non-torch {fb(b['non_torch_bytes'], unit)} · "
            + ("CUDA graphs not predicted" if getattr(startup, "cudagraph_missing", False) else
               f"CUDA graphs {fb(b['cudagraph_bytes'], unit)}")
            + f" → KV {fb(b['kv_memory_bytes'], unit)}",
            *note]


def _sglang(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine sglang: the token pool per GPU for --kv-memory, or for the memory predicted from
    SGLang's startup with --gpu (else for batch × context)."""
    from .cli_startup import sglang_startup, startup_json
    from .engines import sglang_pool
    from .engines.sglang_dsv4 import SglangV4Pool
    from .engines.sglang_mamba import NoStateSlot
    if args.pp != 1 or args.layout != "theoretical" or args.kv_dtype_given:
        raise UsageError("--pp/--layout/--kv-dtype: not SGLang knobs; use --tp, --page-size and "
                         "--kv-cache-dtype")
    memory = _engine_memory(args)
    tp = _tp(args)
    startup = sglang_startup(args, model, tp) if memory is None else None
    if startup is not None:
        memory = startup.available
    if (args.max_context or args.max_batch) and memory is None:
        raise UsageError("--max-context / --max-batch: need --gpu NAME (or --kv-memory)")
    knobs = dict(page_size=args.page_size, kv_cache_dtype=args.kv_cache_dtype, tp=tp,
                 swa_full_tokens_ratio=args.swa_full_tokens_ratio, gpu=args.gpu)
    if args.max_running_requests is not None:
        if not model.has_compressed:
            raise UsageError("--max-running-requests: sizes only DeepSeek-V4's pools here (other "
                             "SGLang pools do not depend on it)")
        knobs["max_running_requests"] = args.max_running_requests
    if args.device != "cuda":
        if not model.has_compressed:
            raise UsageError("--device: npu is read for DeepSeek-V4's pools only (other models are "
                             "sized as SGLang does on CUDA)")
        knobs["device"] = args.device
    if args.max_mamba_cache_size is not None or args.mamba_full_memory_ratio != 0.9:
        if not model.has_state:
            raise UsageError("--max-mamba-cache-size / --mamba-full-memory-ratio: size the Mamba "
                             "pool of hybrid state models only")
        knobs.update(max_mamba_cache_size=args.max_mamba_cache_size,
                     mamba_full_memory_ratio=args.mamba_full_memory_ratio)
    if memory is not None and memory <= 0:
        lines = startup.log_lines() if startup is not None else []
        msg = ("RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.")
        oom = load_oom(startup.weights, startup.gpu_total) if startup is not None else ""
        if oom:  # log_lines end at the load's failure: the log keeps that line, the table words it
            last = lines.pop()
            msg = last if args.format == "log" else oom
        if args.format == "json":
            row = {"model": model.name, "engine": "sglang", "tp": tp, "engine_tokens": 0,
                   **(startup_json(startup) if startup else {"kv_memory_bytes": memory})}
            return json.dumps(row, indent=2)
        return "\n".join(lines + [msg])
    try:
        pools = ([_engine_call(sglang_pool, model, kv_memory=memory, **knobs)]
                 if memory is not None
                 else [_engine_call(sglang_pool, model, tokens=c * args.batch,
                                    requests=args.batch, **knobs)
                       for c in contexts])
    except UsageError as exc:
        if startup is None or not isinstance(exc.__cause__, NoStateSlot):
            raise
        # the memory was predicted, not given: say so rather than name --kv-memory
        raise UsageError(f"--gpu: SGLang's predicted pool memory, {memory / (1 << 30):.2f} GiB "
                         "per GPU, holds not one Mamba state slot; SGLang stops here (add GPUs or "
                         "raise --mem-util)") from None
    if args.format == "log":  # server_args' flag changes come before the startup's lines
        head = [*pools[0].config_lines, *(startup.log_lines() if startup is not None else [])]
        style = "v0.4" if args.engine_version == "0.4" and args.log_style == "current" else args.log_style
        return "\n".join(head + [_engine_call(p.log_line, style, config=False) for p in pools])
    extra = {}
    if memory is not None and args.max_batch:
        extra["max_batch"] = {str(c): int(pools[0].max_requests(c)) for c in contexts}
    if memory is not None and args.max_context:
        extra.update(batch=args.batch, max_context=pools[0].tokens // args.batch)
    if args.format == "json":
        data = []
        for p in pools:
            row = {"model": p.model, "engine": "sglang", "tp": tp, "page_size": p.page_size,
                   "kv_cache_dtype": args.kv_cache_dtype, "engine_tokens": p.tokens,
                   "cell_size_bytes": p.cell_size, "k_bytes": p.k_bytes, "v_bytes": p.v_bytes,
                   "total_bytes_per_gpu": p.total_bytes}
            if isinstance(p, SglangV4Pool):  # DeepSeek-V4: SGLang's compressed pools
                row.update(page_size=p.page_size, swa_tokens=p.swa_tokens, c4_tokens=p.c4_tokens,
                           c128_tokens=p.c128_tokens, c4_state_rows=p.c4_state_rows,
                           c128_state_rows=p.c128_state_rows,
                           bytes_per_full_token=p.bytes_per_full_token,
                           c128_state_fixed_bytes=p.c128_state_fixed, index_bytes=p.index_bytes,
                           state_bytes=p.state_bytes, max_running_requests=p.max_running_requests)
            elif p.swa_tokens is not None:
                row.update(swa_tokens=p.swa_tokens, swa_full_tokens_ratio=args.swa_full_tokens_ratio)
            elif p.mamba:  # hybrid state models: SGLang's Mamba pool
                row.update(max_mamba_cache_size=p.mamba_size, mamba_cache_per_req=p.mamba.per_req,
                           mamba_bytes=p.mamba_bytes)
            if memory is not None:  # requests of the first --context the pools hold
                row.update(kv_memory=memory, kv_memory_bytes=memory,
                           max_concurrency=p.max_requests(contexts[0]))
            if startup is not None:
                row.update(startup_json(startup))
            data.append({**row, **extra})
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    v4 = isinstance(pools[0], SglangV4Pool)
    kind = ("DeepSeek-V4 pools" if v4 else "token + Mamba pools" if pools[0].mamba else
            "token pool" if pools[0].swa_tokens is None else "full + SWA token pools")
    out = [f"{model.name} · SGLang {kind} · page {pools[0].page_size} · kv {args.kv_cache_dtype} · tp {tp}"]
    if startup is not None:
        out += _startup_table(startup, args.unit)
    for p in pools:
        if v4:
            out.append(f"{p.tokens:,} full tokens × {p.bytes_per_full_token:,.2f} B/token "
                       f"(SWA {p.swa_tokens:,}, CSA {p.c4_tokens:,}, HCA {p.c128_tokens:,} entries, "
                       f"{p.c4_state_rows:,} CSA state rows) + HCA state "
                       f"{format_bytes(p.c128_state_fixed, args.unit)} for "
                       f"{p.max_running_requests} requests = {format_bytes(p.total_bytes, args.unit)} per GPU")
        elif p.mamba:
            out.append(f"{p.tokens:,} tokens × {p.cell_size:,} B/token (+{p.page_size} padded "
                       f"slot(s)) + {p.mamba_size:,} Mamba state slots (+1 padded) × "
                       f"{p.mamba.per_req:,} B = {format_bytes(p.total_bytes, args.unit)} per GPU")
        elif p.swa_tokens is None:
            out.append(f"{p.tokens:,} tokens × {p.cell_size:,} B/token (+{p.page_size} padded "
                       f"slot(s)) = {format_bytes(p.total_bytes, args.unit)} per GPU")
        else:
            swa, full = p.buffers
            out.append(f"full pool {p.tokens:,} tokens × {full.token_bytes:,} B + SWA pool "
                       f"{p.swa_tokens:,} tokens × {swa.token_bytes:,} B (+{p.page_size} padded "
                       f"slot(s) each) = {format_bytes(p.total_bytes, args.unit)} per GPU")
        out += ["  " + line for line in p.log_lines(args.log_style)]
    for c, n in extra.get("max_batch", {}).items():
        out.append(f"max batch at context {int(c):,}: {n:,} requests")
    if "max_context" in extra:
        out.append(f"max context at batch {args.batch}: {extra['max_context']:,} tokens")
    return "\n".join(out)


def _llamacpp(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine llama.cpp: the caches llama.cpp allocates for -c (--context); with --kv-memory the
    largest -c that fits."""
    from .engines import llamacpp_max_context, llamacpp_plan
    if (args.tp or 1) != 1 or args.pp != 1 or args.layout != "theoretical" or args.kv_dtype_given:
        raise UsageError("--tp/--pp/--layout/--kv-dtype: not llama.cpp knobs; use --parallel, "
                         "--cache-type-k/-v, --ubatch-size")
    memory = _engine_memory(args)
    knobs = dict(n_seq_max=args.parallel, kv_unified=args.kv_unified, cache_type_k=args.cache_type_k,
                 cache_type_v=args.cache_type_v, n_batch=args.batch_size, n_ubatch=args.ubatch_size,
                 swa_full=args.swa_full, flash_attn=not args.no_flash_attn, mla=args.mla_cache,
                 build=args.llamacpp_build)
    if memory is not None:
        best = _engine_call(llamacpp_max_context, model, memory, **knobs)
        if best is None:
            raise UsageError(f"--kv-memory: not even -c 256 fits in {memory:,} bytes")
        plans = [best]
    else:
        plans = [_engine_call(llamacpp_plan, model, n_ctx=c, **knobs) for c in args.context or [0]]
    legacy = args.log_style == "legacy"
    if args.format == "log":
        return "\n".join(line for p in plans for line in p.log_lines(legacy))
    if args.format == "json":
        data = []
        for p in plans:
            row = {"model": p.model, "engine": "llama.cpp", "context": p.n_ctx, "n_ctx_seq": p.n_ctx_seq,
                   "n_seq_max": p.n_seq_max, "kv_unified": args.kv_unified,
                   "cache_type_k": args.cache_type_k, "cache_type_v": args.cache_type_v,
                   "caches": [{"kind": c.kind, "cells": c.cells, "layers": c.layers,
                               "k_bytes": c.k_bytes, "v_bytes": c.v_bytes} for c in p.caches],
                   "total_bytes": p.total_bytes}
            if memory is not None:
                row.update(kv_memory=memory, engine_tokens=p.n_ctx)
            data.append(row)
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    from .engines.llamacpp_dsv4 import LLAMACPP_DSV4_VERSION
    version = LLAMACPP_DSV4_VERSION if model.has_compressed else LLAMACPP_VERSION
    out = [f"{model.name} · {version} · -np {args.parallel}"
           f"{' -kvu' if args.kv_unified else ''} · K {args.cache_type_k} / V {args.cache_type_v}"]
    if memory is not None:
        out.append(f"{format_bytes(memory, args.unit)} for KV → largest -c {plans[0].n_ctx:,}")
    for p in plans:
        out.append(f"n_ctx {p.n_ctx:,} (n_ctx_seq {p.n_ctx_seq:,}): "
                   f"{format_bytes(p.total_bytes, args.unit)} in {len(p.caches)} cache(s)")
        out += ["  " + line for line in p.log_lines(legacy)]
    return "\n".join(out)
