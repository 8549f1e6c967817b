"""The CLI's engine modes (``--engine vllm | sglang | llama.cpp``): each engine's knobs, its
tables and JSON rows, and the lines it logs (``--format log``)."""
from __future__ import annotations

import argparse
import json

from .cli_common import UsageError, weights_json
from .engines.llamacpp import LLAMACPP_VERSION
from .engines.vllm import VLLM_VERSION
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


def vllm_json(p, batch: int, tp: int, args) -> dict:
    row = {"model": p.model, "engine": "vllm", "context": p.max_model_len, "batch": batch, "tp": tp,
           "kv_cache_dtype": args.kv_cache_dtype, "block_size": args.block_size,
           "page_size_bytes": p.page_size, "layers_per_group": p.group_size,
           "kv_groups": len(p.groups), "padding_layers": p.padding_layers,
           "blocks_per_request": p.blocks_per_request,
           "total_bytes_per_gpu": p.request_bytes(batch)}
    if p.kv_memory is not None:
        row.update(kv_memory=p.kv_memory, num_blocks=p.num_blocks, engine_tokens=p.num_tokens,
                   max_concurrency=p.max_concurrency)
    return row


def vllm_weights_json(model: ModelSpec, tp: int, expert_parallel: bool = False) -> dict:
    """Weight fields of a vLLM row: the checkpoint, and what one GPU allocates for it
    ("Model loading took X GiB") where the shapes and format are modelled."""
    from .engines.vllm_weights import vllm_load
    if model.config is None or model.weight_bytes is None:
        return weights_json(model, tp)
    try:
        load = vllm_load(model.config, tp=tp, expert_parallel=expert_parallel)
    except ValueError as exc:
        return {**weights_json(model, tp), "model_loading_note": str(exc)}
    return {**weights_json(model, tp, per_gpu=load.allocated), "model_loading_line": load.log_line}


ENGINE_FLAGS = ("tp", "block-size", "page-size", "kv-cache-dtype", "max-num-batched-tokens",
                "kv-memory", "parallel", "cache-type-k", "cache-type-v", "batch-size", "ubatch-size",
                "context", "mla-cache", "swa-full-tokens-ratio")


def _engine_call(fn, *args, **kwargs):
    """Run an engine rule; its ``ValueError`` on a knob becomes a one-line error naming the flag."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        field, _, rest = str(exc).partition(": ")
        raise UsageError(f"--{field}: {rest}" if field in ENGINE_FLAGS else str(exc)) from None


def _engine_memory(args: argparse.Namespace) -> int | None:
    """--kv-memory in bytes (None when not given); csv is for the theoretical engine only."""
    from .gpus import parse_memory
    if args.format == "csv":
        raise UsageError("--format: csv is for the theoretical engine; use table, json or log")
    return None if args.kv_memory is None else parse_memory(args.kv_memory, "--kv-memory")


def _vllm(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine vllm: the pool vLLM builds per GPU, and with --kv-memory its log lines."""
    from .engines import vllm_plan
    if args.pp != 1:
        raise UsageError("--pp: the vllm engine mode models one pipeline stage; drop --pp")
    if args.layout != "theoretical" or args.kv_dtype_given:
        raise UsageError("--layout/--kv-dtype: vLLM pages its cache; use --block-size and "
                         "--kv-cache-dtype")
    memory = _engine_memory(args)
    if args.format == "log" and memory is None:
        raise UsageError("--format log: vLLM prints its KV lines for a given memory; add --kv-memory")
    tp = args.tp or 1
    plans = [_engine_call(vllm_plan, model, max_model_len=c, kv_memory=memory,
                          block_size=args.block_size, kv_cache_dtype=args.kv_cache_dtype, tp=tp,
                          max_num_batched_tokens=args.max_num_batched_tokens) for c in contexts]
    if args.format == "log":
        return "\n".join(line for p in plans for line in p.log_lines())
    if args.format == "json":
        weights = vllm_weights_json(model, tp, args.enable_expert_parallel)
        data = [{**vllm_json(p, args.batch, tp, args), **weights} for p in plans]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    out = [f"{model.name} · {VLLM_VERSION} · block {args.block_size} · kv {args.kv_cache_dtype}"
           f" · tp {tp}"]
    weights = vllm_weights_json(model, tp, args.enable_expert_parallel)
    if "model_loading_line" in weights:
        out.append(f"weights per GPU {weights['weight_bytes_per_gpu']:,} B as vLLM allocates them "
                   f"(\"{weights['model_loading_line']}\")")
    for p in plans:
        kinds = ", ".join(f"{s.label()} × {n}" for s, n in p.groups)
        out.append(f"max_model_len {p.max_model_len:,}: {len(p.groups)} KV group(s) of "
                   f"{p.group_size} layers [{kinds}]; page {p.page_size:,} B; "
                   f"{p.blocks_per_request:,} blocks per request; {args.batch} request(s) = "
                   f"{format_bytes(p.request_bytes(args.batch), args.unit)} per GPU"
                   + (f"; {p.padding_layers} padding layers" if p.padding_layers else ""))
        if p.kv_memory is not None:
            out.append(f"  {format_bytes(p.kv_memory, args.unit)} for KV → {p.num_blocks:,} blocks")
            out += ["  " + line for line in p.log_lines()]
    return "\n".join(out)


def _sglang(args: argparse.Namespace, model: ModelSpec, contexts: list[int]) -> str:
    """--engine sglang: the token pool per GPU for --kv-memory (else for batch × context)."""
    from .engines import sglang_pool
    if args.pp != 1 or args.layout != "theoretical" or args.kv_dtype_given:
        raise UsageError("--pp/--layout/--kv-dtype: not SGLang knobs; use --tp, --page-size and "
                         "--kv-cache-dtype")
    memory = _engine_memory(args)
    tp = args.tp or 1
    knobs = dict(page_size=args.page_size, kv_cache_dtype=args.kv_cache_dtype, tp=tp,
                 swa_full_tokens_ratio=args.swa_full_tokens_ratio)
    pools = ([_engine_call(sglang_pool, model, kv_memory=memory, **knobs)] if memory is not None
             else [_engine_call(sglang_pool, model, tokens=c * args.batch, **knobs)
                   for c in contexts])
    if args.format == "log":
        return "\n".join(p.log_line(args.log_style) for p in pools)
    if args.format == "json":
        data = []
        for p in pools:
            row = {"model": p.model, "engine": "sglang", "tp": tp, "page_size": p.page_size,
                   "kv_cache_dtype": args.kv_cache_dtype, "engine_tokens": p.tokens,
                   "cell_size_bytes": p.cell_size, "k_bytes": p.k_bytes, "v_bytes": p.v_bytes,
                   "total_bytes_per_gpu": p.total_bytes}
            if p.swa_tokens is not None:
                row.update(swa_tokens=p.swa_tokens, swa_full_tokens_ratio=args.swa_full_tokens_ratio)
            if memory is not None:  # requests of the first --context the pools hold
                row.update(kv_memory=memory, max_concurrency=p.max_requests(contexts[0]))
            data.append(row)
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    kind = "token pool" if pools[0].swa_tokens is None else "full + SWA token pools"
    out = [f"{model.name} · SGLang {kind} · page {args.page_size} · kv {args.kv_cache_dtype} · tp {tp}"]
    for p in pools:
        if p.swa_tokens is None:
            out.append(f"{p.tokens:,} tokens × {p.cell_size:,} B/token (+{p.page_size} padded "
                       f"slot(s)) = {format_bytes(p.total_bytes, args.unit)} per GPU")
        else:
            swa, full = p.buffers
            out.append(f"full pool {p.tokens:,} tokens × {full.token_bytes:,} B + SWA pool "
                       f"{p.swa_tokens:,} tokens × {swa.token_bytes:,} B (+{p.page_size} padded "
                       f"slot(s) each) = {format_bytes(p.total_bytes, args.unit)} per GPU")
        out += ["  " + line for line in p.log_lines(args.log_style)]
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
                 swa_full=args.swa_full, flash_attn=not args.no_flash_attn, mla=args.mla_cache)
    if memory is not None:
        best = _engine_call(llamacpp_max_context, model, memory, **knobs)
        if best is None:
            raise UsageError(f"--kv-memory: not even -c 256 fits in {memory:,} bytes")
        plans = [best]
    else:
        plans = [_engine_call(llamacpp_plan, model, n_ctx=c, **knobs) for c in args.context or [0]]
    if args.format == "log":
        return "\n".join(line for p in plans for line in p.log_lines())
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
    out = [f"{model.name} · {LLAMACPP_VERSION} · -np {args.parallel}"
           f"{' -kvu' if args.kv_unified else ''} · K {args.cache_type_k} / V {args.cache_type_v}"]
    if memory is not None:
        out.append(f"{format_bytes(memory, args.unit)} for KV → largest -c {plans[0].n_ctx:,}")
    for p in plans:
        out.append(f"n_ctx {p.n_ctx:,} (n_ctx_seq {p.n_ctx_seq:,}): "
                   f"{format_bytes(p.total_bytes, args.unit)} in {len(p.caches)} cache(s)")
        out += ["  " + line for line in p.log_lines()]
    return "\n".join(out)
