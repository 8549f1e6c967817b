"""Model presets: one YAML file per real model; this package lists and loads them.

A preset file holds the model's Hugging Face config.json fields under ``config:`` plus its name,
source and parameter count. Loading goes through ``yaml.safe_load`` and then the same importer as a
pasted config (``calculator.from_hf_config``), so presets and user configs are validated alike.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import yaml

from calculator.hf_config import from_hf_config
from calculator.model.quant import quant_method
from calculator.model.weights import with_weights
from calculator.specs import ModelSpec

PRESET_DIR = Path(__file__).resolve().parent


def list_presets() -> list[str]:
    """Preset names (the YAML file stems), sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_key(name: object) -> str:
    """The file stem of a preset given by stem or display name, case-insensitively
    ('llama-3.1-8b', 'Llama-3.1-8B' and 'LLAMA-3.1-8B' are one preset)."""
    if isinstance(name, str):
        wanted = name.strip().lower()
        for stem in list_presets():
            if wanted in (stem.lower(), str(preset_document(stem).get("name", "")).lower()):
                return stem
    raise ValueError(f"preset: unknown {name!r}; see --list-presets")


@lru_cache(maxsize=None)
def preset_document(name: str) -> dict:
    """The parsed YAML of preset ``name`` (a file stem)."""
    if not isinstance(name, str) or name not in list_presets():
        raise ValueError(f"preset: unknown {name!r}; see --list-presets")
    doc = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise ValueError(f"preset {name}: file has no 'config' mapping")
    return doc


def preset_checkpoints(name: str) -> list[str]:
    """Names of the preset's published checkpoints (its own first, then e.g. FP8 and AWQ ones)."""
    return list(_checkpoint_names(preset_key(name)))


@lru_cache(maxsize=None)  # presets are files of the repo: read once
def _checkpoint_names(stem: str) -> tuple[str, ...]:
    doc = preset_document(stem)
    own = doc.get("checkpoint")
    if own is None:  # the shipped format: the quantization method, else the served dtype
        raw = json.loads((PRESET_DIR / "configs" / f"{stem}.json").read_text(encoding="utf-8"))
        method = quant_method(raw)  # a wrapper's sits in its text_config (Kimi-K2.5)
        own = method or str(doc["config"].get("torch_dtype") or raw.get("torch_dtype") or "bfloat16")
        own = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(own, own)
        if raw.get("expert_dtype"):  # DeepSeek-V4: FP8 blocks, the routed experts in FP4
            own = f"{own} + {raw['expert_dtype']} experts"
    return (str(own),) + tuple(str(c["name"]) for c in doc.get("checkpoints") or [])


def checkpoint_config(name: str, checkpoint: str | None = None) -> dict:
    """The preset's full config.json (``configs/<stem>.json``) as the chosen checkpoint ships it:
    the preset's served dtype, and for another published checkpoint its own
    ``quantization_config``, ``torch_dtype`` and any shape fields it changes. (The file verbatim,
    as transformers reads it, is ``param_counts.full_config``.)"""
    stem = preset_key(name)
    doc = preset_document(stem)
    path = PRESET_DIR / "configs" / f"{stem}.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    served = doc["config"].get("torch_dtype")
    target = config["text_config"] if isinstance(config.get("text_config"), dict) else config
    if served:
        config["torch_dtype"] = served
    names = _checkpoint_names(stem)
    if checkpoint is None or checkpoint == names[0]:
        return config
    for entry in doc.get("checkpoints") or []:
        if entry["name"] == checkpoint:
            config.pop("quantization_config", None)
            target.update(entry.get("config") or {})
            config["quantization_config"] = entry["quantization_config"]
            config["torch_dtype"] = entry.get("torch_dtype", config.get("torch_dtype"))
            return config
    raise ValueError(f"checkpoint: {name} has no checkpoint {checkpoint!r}; known: {', '.join(names)}")


def load_preset(name: str, *, include_mtp: bool = False, checkpoint: str | None = None) -> ModelSpec:
    """The ``ModelSpec`` of preset ``name`` (stem or display name; display name, source and
    parameter count attached), with the weights of its checkpoint (``checkpoint``: one of
    ``preset_checkpoints``; default its own) priced from the full config.json."""
    stem = preset_key(name)
    doc = preset_document(stem)
    model = from_hf_config(doc["config"], name=doc.get("name", name),
                           param_count=doc.get("param_count"), source=doc.get("source", ""),
                           include_mtp=include_mtp)
    model = with_weights(model, checkpoint_config(stem, checkpoint))
    published = doc.get("checkpoint_bytes")
    if published and model.weight_bytes is None and checkpoint in (None, _checkpoint_names(stem)[0]):
        # a format the config alone cannot price (DeepSeek-V4's FP4 + FP8 mix): the checkpoint's
        # own safetensors total, as its index publishes it
        model = replace(model, weight_bytes=int(published), weights_error="",
                        weights_from=str(doc.get("checkpoint_bytes_source") or "published total"))
    if checkpoint is not None and checkpoint != _checkpoint_names(stem)[0]:
        model = replace(model, name=f"{model.name} ({checkpoint})")
    return model
