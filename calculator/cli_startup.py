"""The CLI's startup predictions: with ``--engine vllm|sglang --gpu NAME`` and no ``--kv-memory``,
the memory the engine will have for its KV pool (``engines/vllm_startup.py``,
``engines/sglang_startup.py``), its per-GPU breakdown for JSON, and the capacity questions
(``--max-batch``, ``--max-context``) answered by the engine's own pool."""
from __future__ import annotations

import argparse

from .cli_common import UsageError
from .gpus import gpu_memory, gpu_spec, parse_memory
from .specs import ModelSpec

from .engines.vllm_startup import POOL_ONLY as VLLM_POOL_ONLY  # pool rules only: --kv-memory
from .engines.vllm_startup import DEFAULT_VERSION as VLLM_DEFAULT

from .engines.sglang_fraction import VERSIONS as SGLANG_VERSIONS  # default: the newest read
from .engines.releases import sglang_build, vllm_build  # a release → the build that runs it


def vllm_version(args: argparse.Namespace) -> str:
    """--engine-version for the vllm engine (default: the newest whose every startup term is
    predicted, ``vllm_startup.DEFAULT_VERSION``)."""
    try:  # a release (0.19.1, v0.22.0, main) or a build label → the build whose rules apply
        version = vllm_build(args.engine_version) if args.engine_version else VLLM_DEFAULT
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None
    if args.no_async_scheduling and version not in VLLM_POOL_ONLY:
        raise UsageError(f"--no-async-scheduling: only the pool rules of vLLM "
                         f"{', '.join(VLLM_POOL_ONLY)} depend on it; add --engine-version "
                         f"{VLLM_POOL_ONLY[-1]}")
    return version


def sglang_version(args: argparse.Namespace) -> str:
    """--engine-version for the sglang engine: a build label, or main / latest (default: main)."""
    try:
        return sglang_build(args.engine_version) if args.engine_version else SGLANG_VERSIONS[-1]
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None


def _gpu(args: argparse.Namespace):
    spec = gpu_spec(args.gpu)
    if spec is not None:
        return spec
    return None


def _non_torch(args: argparse.Namespace) -> int | None:
    if args.non_torch is None:
        return None
    try:
        return parse_memory(args.non_torch, "--non-torch")
    except ValueError as exc:  # raised here, not by predict: keep the flag's own name
        raise UsageError(str(exc)) from None


def _cudagraph(args: argparse.Namespace) -> int | None:
    """--cudagraph-memory in bytes (None when not given; 0 is a real figure: eager)."""
    if getattr(args, "cudagraph_memory", None) is None:
        return None
    try:
        return parse_memory(args.cudagraph_memory, "--cudagraph-memory", allow_zero=True)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def vllm_startup(args: argparse.Namespace, model: ModelSpec, tp: int):
    """vLLM's predicted startup on one GPU of ``args.gpu`` (None without --gpu)."""
    from .engines.vllm_startup import predict
    if not args.gpu:
        return None
    version = vllm_version(args)
    if version in VLLM_POOL_ONLY:
        who = (f"vLLM {version}'s" if args.engine_version in (None, version)
               else f"{args.engine_version} runs vLLM {version}'s rules, whose")
        raise UsageError(f"--engine-version: {who} startup memory is not modelled (its pool rules "
                         "are); give --kv-memory, the 'Available KV cache memory' it logs")
    spec = _gpu(args)
    gpu = spec if spec is not None else (args.gpu, gpu_memory(args.gpu))
    try:
        return predict(model, gpu, mem_util=args.mem_util, tp=tp, usage=args.usage,
                       version=version, max_num_batched_tokens=args.max_num_batched_tokens,
                       max_num_seqs=args.max_num_seqs, expert_parallel=args.enable_expert_parallel,
                       non_torch=_non_torch(args), sampler=args.sampler,
                       skip_mm_profiling=args.skip_mm_profiling, cudagraph=_cudagraph(args),
                       language_model_only=args.language_model_only)
    except ValueError as exc:
        # a knob's error names its flag; a config field's (n_groups, weights ...) stays as it is
        field, _, rest = str(exc).partition(": ")
        raise UsageError(f"--{field.replace('_', '-')}: {rest}"
                         if rest and hasattr(args, field.replace("-", "_")) else str(exc)) from None


def sglang_startup(args: argparse.Namespace, model: ModelSpec, tp: int):
    """SGLang's predicted startup on one GPU of ``args.gpu`` (None without --gpu)."""
    from .engines.sglang_startup import predict
    if not args.gpu:
        return None
    version = sglang_version(args)
    spec = _gpu(args)
    gpu = spec if spec is not None else (args.gpu, gpu_memory(args.gpu), None)
    try:
        return predict(model, gpu, tp=tp, mem_fraction_static=args.mem_util,
                       context=_non_torch(args), version=version)
    except ValueError as exc:
        msg = str(exc)
        msg = "--" + msg if msg.startswith("engine-version:") else msg
        raise UsageError(msg.replace("mem-fraction-static:", "--mem-util:")
                         .replace("a given KV memory per GPU", "--kv-memory")) from None


def startup_json(startup) -> dict:
    """The per-GPU breakdown fields of a JSON row (kv_memory_bytes: predicted KV memory)."""
    row = dict(startup.breakdown())
    if hasattr(startup, "max_num_seqs"):
        row.update(engine_version=startup.version, sampler=startup.sampler,
                   mem_util=str(float(startup.mem_util)), usage_defaults={
                       "max_num_batched_tokens": startup.max_num_batched_tokens,
                       "max_num_seqs": startup.max_num_seqs},
                   non_torch_source=startup.non_torch_source,
                   mm_encoder_profile=startup.mm_encoder, model_runner=startup.runner,
                   dsa_indexer_profile="not modelled" if startup.dsa_indexer else None,
                   cudagraph_source=startup.cudagraph_source,
                   cudagraph_missing=startup.cudagraph_missing)
    else:
        row.update(mem_fraction_static=str(float(startup.mem_fraction_static)),
                   mem_fraction_static_default=not startup.fraction_given,
                   chunked_prefill_size=startup.chunked_prefill_size,
                   cuda_graph_max_bs=startup.cuda_graph_max_bs, engine_version=startup.version,
                   prefill_graph_reserve_mib=startup.prefill_graph_mib,
                   vlm_cut=startup.vlm_cut, non_torch_source=startup.context_source)
    return row


def vllm_max_context(model: ModelSpec, memory: int, batch: int, **knobs) -> int | None:
    """Largest max_model_len (≤ the model's) at which ``batch`` requests fit in ``memory``."""
    from .engines import vllm_plan
    hi = model.max_context or 1 << 24
    fits = lambda n: vllm_plan(model, max_model_len=n, kv_memory=memory, **knobs).max_concurrency >= batch
    if not fits(1):
        return None
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo
