""""Copy as command": the shell lines that give the numbers a page shows — the engine's own
launch line (``vllm serve …``, ``python -m sglang.launch_server …``) and the
``python -m calculator …`` line whose JSON carries the same figures."""
from __future__ import annotations

import shlex

from model_presets import preset_document


def repo(choice: str, checkpoint: str | None) -> str:
    """The Hugging Face repository a preset (or one of its checkpoints) is served from."""
    if choice.startswith("custom:"):
        return "<your model>"
    doc = preset_document(choice)
    for ck in doc.get("checkpoints") or []:
        if checkpoint and ck.get("name") == checkpoint:
            return str(ck.get("repo") or doc.get("hf_repo") or choice)
    return str(doc.get("hf_repo") or choice)


def _line(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def vllm_serve(choice: str, checkpoint: str | None, *, tp: int, util: float, ctx: int,
               kv_cache_dtype: str, block: int, mnbt: int | None, usage: str,
               kv_memory: int | None = None, skip_mm: bool = False,
               prefix_caching: bool = False, language_model_only: bool = False) -> str:
    """``kv_memory``: pin the pool with ``--kv-cache-memory-bytes`` (in place of the
    utilization, which then no longer sizes it); ``skip_mm``: ``--skip-mm-profiling``;
    ``prefix_caching``: ``--enable-prefix-caching`` (a hybrid model's default is off);
    ``language_model_only``: ``--language-model-only`` (no vision tower, no encoder pass)."""
    words = ["vllm", "serve", repo(choice, checkpoint), "--tensor-parallel-size", str(tp)]
    words += (["--kv-cache-memory-bytes", str(kv_memory)] if kv_memory else
              ["--gpu-memory-utilization", f"{util:.2f}"])
    words += ["--max-model-len", str(ctx)]
    if kv_cache_dtype != "auto":
        words += ["--kv-cache-dtype", kv_cache_dtype]
    if block != 16:
        words += ["--block-size", str(block)]
    if mnbt:
        words += ["--max-num-batched-tokens", str(mnbt)]
    if skip_mm:
        words += ["--skip-mm-profiling"]
    if language_model_only:
        words += ["--language-model-only"]
    if prefix_caching:
        words += ["--enable-prefix-caching"]
    line = _line(words)
    if usage == "serve":
        return line
    who = "the LLM class" if usage == "llm" else "an (Async)EngineArgs engine"
    return f"# {who} with the same settings as: {line}"


def sglang_launch(choice: str, checkpoint: str | None, *, tp: int, fraction: float | None,
                  kv_cache_dtype: str, page: int, ctx: int) -> str:
    words = ["python", "-m", "sglang.launch_server", "--model-path", repo(choice, checkpoint),
             "--tp", str(tp), "--context-length", str(ctx)]
    if fraction:
        words += ["--mem-fraction-static", f"{fraction:.2f}"]
    if kv_cache_dtype != "auto":
        words += ["--kv-cache-dtype", kv_cache_dtype]
    if page != 1:
        words += ["--page-size", str(page)]
    return _line(words)


def calculator(choice: str, checkpoint: str | None, engine: str, *, gpu: str, tp: int, ctx: int,
               extra: list[str]) -> str | None:
    """The CLI line printing the page's engine figures as JSON (None for custom models, which
    the CLI takes as a config file instead)."""
    if choice.startswith("custom:"):
        return None
    words = ["python", "-m", "calculator", "--preset", choice]
    if checkpoint:
        words += ["--checkpoint", checkpoint]
    words += ["--engine", engine, "--gpu", gpu, "--tp", str(tp), "--context", str(ctx), *extra,
              "--format", "json"]
    return _line(words)


def compare_lines(choices: list[str], engine: str, *, dtype: str, model_dtypes: dict[str, str],
                  batch: int, tp: int, layout: str, block: int, contexts: tuple[int, ...],
                  mtp: bool) -> list[str]:
    """One ``python -m calculator`` line per preset on the Compare page, printing the table's
    figures for that engine (custom models are skipped: the CLI takes them as config files)."""
    from views.common import LLAMACPP_CACHE_TYPES, auto_or_fp8
    out = []
    for choice in choices:
        if choice.startswith("custom:"):
            out.append(f"# {choice}: python -m calculator --config <its config.json> ...")
            continue
        words = ["python", "-m", "calculator", "--preset", choice]
        if mtp:
            words.append("--include-mtp")
        try:
            if engine == "theoretical":
                words += ["--kv-dtype", dtype, "--batch", str(batch), "--tp", str(tp)]
                if layout != "theoretical":
                    words += ["--layout", layout, "--block-size", str(block)]
            elif engine == "transformers":
                words += ["--engine", "transformers", "--kv-dtype", dtype, "--batch", str(batch)]
            elif engine in ("vllm", "sglang"):
                flag = auto_or_fp8(engine, dtype, model_dtypes[choice])
                words += ["--engine", engine, "--kv-cache-dtype", flag, "--tp", str(tp),
                          "--batch", str(batch)]
                if engine == "vllm":
                    words += ["--block-size", str(block)]
            else:
                t = LLAMACPP_CACHE_TYPES[dtype]
                words += ["--engine", "llama.cpp", "-ctk", t, "-ctv", t, "--parallel",
                          str(min(batch, 256))]
        except (ValueError, KeyError):
            out.append(f"# {choice}: {engine} has no {dtype} cache")
            continue
        scale = batch if engine == "llama.cpp" else 1  # llama.cpp's -c holds every sequence
        for ctx in contexts:
            words += ["--context", str(ctx * scale)]
        words += ["--format", "csv" if engine == "theoretical" else "json"]
        out.append(_line(words))
    return out
