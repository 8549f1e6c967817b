"""Model presets: one YAML file per real model; this package lists and loads them.

A preset file holds the model's Hugging Face config.json fields under ``config:`` plus its name,
source and parameter count. Loading goes through ``yaml.safe_load`` and then the same importer as a
pasted config (``calculator.from_hf_config``), so presets and user configs are validated alike.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from calculator.hf_config import from_hf_config
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


def load_preset(name: str, *, include_mtp: bool = False) -> ModelSpec:
    """The ``ModelSpec`` of preset ``name`` (stem or display name; display name, source and
    parameter count attached)."""
    doc = preset_document(preset_key(name))
    return from_hf_config(doc["config"], name=doc.get("name", name),
                          param_count=doc.get("param_count"), source=doc.get("source", ""),
                          include_mtp=include_mtp)
