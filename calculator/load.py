"""Turn user-supplied config text into a ``ModelSpec``, with size and format limits.

Shared by the CLI (``--config PATH``) and the dashboard (paste / upload), so both refuse the same
inputs with the same one-line messages.
"""
from __future__ import annotations

import json

from pathlib import Path

from dataclasses import replace

from .hf_config import from_hf_config
from .model.weights import with_weights
from .specs import ModelSpec

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: real config.json files are a few KiB


def parse_config_text(text: str | bytes) -> dict:
    """Parse config.json text; ``ValueError`` for oversized, non-UTF-8 or malformed input."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(f"config: {len(text):,} bytes is over the {MAX_CONFIG_BYTES:,}-byte limit "
                         "(a config.json is a few KiB)")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("config: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ValueError(f"config: not valid JSON: {msg}{where}") from None
    except ValueError:  # Python's int() limit: a number of over 4,300 digits
        raise ValueError("config: not valid JSON: a number has more than 4,300 digits") from None
    if not isinstance(data, dict):
        raise ValueError(f"config: expected a JSON object, got {type(data).__name__}")
    return data


def _encodable(text: str) -> bool:
    """Printable as UTF-8 (a lone surrogate such as "\\ud800" in the JSON is not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def config_name(config: dict, fallback: str = "custom") -> str:
    """The name a config gives itself: ``_name_or_path`` (its repo id; a local path keeps its last
    part), else its first architecture, else ``fallback``."""
    archs = config.get("architectures")
    for value in (config.get("_name_or_path"), archs[0] if isinstance(archs, list) and archs else None):
        if isinstance(value, str) and value.strip().rstrip("/") and len(value) <= 200 \
                and _encodable(value):
            value = value.strip().rstrip("/")
            return value.rsplit("/", 1)[-1] if value.startswith(("/", ".", "~")) else value
    return fallback


def model_from_config_file(path: str | Path, *, name: str | None = None,
                           param_count: int | None = None, include_mtp: bool = False) -> ModelSpec:
    """Read a config.json from disk (size checked before reading); named as ``config_name`` says."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"config: no such file {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"config: {str(path)!r} is not a regular file")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"config: file is over the {MAX_CONFIG_BYTES:,}-byte limit")
        with path.open("rb") as fh:  # a size of 0 can hide a pseudo-file: read at most the cap
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"config: cannot read {str(path)!r}: {exc.strerror or type(exc).__name__}") from None
    return model_from_config_text(data, name=name, param_count=param_count,
                                  include_mtp=include_mtp, source=str(path))


def model_from_config_text(text: str | bytes, *, name: str | None = None,
                           param_count: int | None = None, include_mtp: bool = False,
                           source: str = "pasted config.json") -> ModelSpec:
    """Parse and import in one step; ``name`` defaults to the config's own (``config_name``)."""
    config = parse_config_text(text)
    model = from_hf_config(config, name=name or config_name(config), param_count=param_count,
                           source=source, include_mtp=include_mtp)
    model = with_weights(model, config)
    if param_count is not None:  # a stated count is what capacity prices (× a weight dtype)
        model = replace(model, param_count=param_count, weight_bytes=None, weights_from="")
    return model
