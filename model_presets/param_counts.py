"""Recompute every preset's exact parameter count with transformers, on the meta device.

``python -m model_presets.param_counts`` reads each preset's full Hugging Face config
(``model_presets/configs/<preset>.json``), builds the model class that config names with
``torch.device("meta")`` (shapes only, no memory, no weights, no remote code) and counts the unique
parameters and persistent buffers (what a checkpoint stores), tied embeddings once. ``--write`` stores the counts as ``param_count`` in the preset
YAML files; without it the script prints the counts and exits 1 if any stored count differs.

Counts are the model as transformers defines it: MTP / next-n modules that transformers does not
build (DeepSeek-V3's 14B MTP layer) are not counted; quantized checkpoints (gpt-oss MXFP4) count
logical parameters, not packed bytes. This is the reference the calculator's own config-only
shapes (``calculator/model/shapes.py``, which also price packed formats) are tested against.
Needs torch and transformers (dev requirements); the calculator itself never imports them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys

from model_presets import PRESET_DIR, list_presets, preset_document

CONFIG_DIR = PRESET_DIR / "configs"
# model_type values whose code lives only in the model repo (remote code), mapped to the
# transformers class that the repo's own config file subclasses. Kimi-K2's
# configuration_deepseek.py defines DeepseekV3Config, so the shapes are deepseek_v3's.
# The original Falcon configs (RefinedWeb*) map to transformers' FalconConfig the same way.
MODEL_TYPE_MAP = {"kimi_k2": "deepseek_v3", "RefinedWebModel": "falcon", "RefinedWeb": "falcon"}
# Presets whose architecture transformers does not define (remote code only): their count is the
# one the checkpoint publishes (the Hub's safetensors metadata, ``total_size`` ÷ 2 bytes for
# bf16), which ``calculator/model/shapes.py``'s own listing must equal (tests/test_weights.py).
PUBLISHED_COUNTS = {
    "llama-3.3-nemotron-super-49b": 49_867_145_216,  # nvidia/Llama-3_3-Nemotron-Super-49B-v1, BF16
}
# Keys that must not reach the config class: remote-code pointers and checkpoint quantization
# (a multimodal wrapper's text_config carries its own).
DROP_KEYS = ("auto_map", "quantization_config")
# architectures whose transformers class is spelled differently from the remote code's
ARCH_MAP = {"KimiK25ForConditionalGeneration": "Kimi_K25ForConditionalGeneration"}


def full_config(name: str) -> dict:
    """The preset's full config.json as stored beside the presets."""
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"preset {name}: no full config at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def meta_model(config: dict):
    """The model class ``config['architectures'][0]`` built on the meta device (shapes only)."""
    import torch
    import transformers

    cfg = {k: v for k, v in config.items() if k not in DROP_KEYS}
    if isinstance(cfg.get("text_config"), dict):
        cfg["text_config"] = {k: v for k, v in cfg["text_config"].items() if k not in DROP_KEYS}
    model_type = MODEL_TYPE_MAP.get(cfg.get("model_type"), cfg.get("model_type"))
    cfg.pop("model_type", None)
    arch = (cfg.get("architectures") or [None])[0]
    arch = ARCH_MAP.get(arch, arch)
    cls = getattr(transformers, arch or "", None)
    if cls is None:
        raise ValueError(f"architectures: transformers {transformers.__version__} has no class {arch!r}")
    hf_config = transformers.AutoConfig.for_model(model_type, **cfg)
    with torch.device("meta"):
        return cls(hf_config)


def checkpoint_tensors(config: dict) -> dict:
    """{name: tensor} as a checkpoint saves them: parameters and persistent buffers, each once
    (tied embeddings are one object, so the first name is kept)."""
    out, seen = {}, set()
    for name, t in meta_model(config).state_dict(keep_vars=True).items():
        if id(t) not in seen:
            seen.add(id(t))
            out[name] = t
    return out


def count_parameters(config: dict) -> int:
    """Unique stored elements of the config's model class (see ``checkpoint_tensors``)."""
    # Parameters plus persistent buffers (what a checkpoint saves, e.g. DeepSeek-V3's per-expert
    # e_score_correction_bias), each tensor once: tied embeddings are one object.
    return sum(t.numel() for t in checkpoint_tensors(config).values())


def count_all(names: list[str]) -> dict[str, int]:
    return {n: PUBLISHED_COUNTS.get(n) or count_parameters(full_config(n)) for n in names}


def write_counts(counts: dict[str, int], version: str) -> None:
    """Replace the ``param_count`` / ``param_source`` lines of each preset YAML in place."""
    for name, count in counts.items():
        path = PRESET_DIR / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^param_count:.*$", f"param_count: {count}", text, count=1, flags=re.M)
        source = (f"param_source: 'python -m model_presets.param_counts (transformers {version}, "
                  f"meta device, configs/{name}.json)'")
        if name in PUBLISHED_COUNTS:
            source = ("param_source: 'the checkpoint''s published count (Hub safetensors metadata; no "
                      "transformers class), equal to calculator/model/shapes.py''s listing'")
        text = re.sub(r"^param_source:.*(\n  .*)*$", source, text, count=1, flags=re.M)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_presets.param_counts",
                                     description="Exact preset parameter counts via transformers (meta device).")
    parser.add_argument("presets", nargs="*", help="preset names (default: all)")
    parser.add_argument("--write", action="store_true", help="store the counts in the preset YAML files")
    args = parser.parse_args(argv)
    names = args.presets or list_presets()
    try:
        import transformers
    except ImportError:
        print("error: needs torch and transformers (pip install -r requirements-dev.txt)", file=sys.stderr)
        return 2
    counts = count_all(names)
    stale = 0
    for name, count in counts.items():
        stored = preset_document(name).get("param_count")
        mark = "ok" if stored == count else f"stored {stored}"
        stale += stored != count
        print(f"{name:24} {count:>16,}  {mark}")
    if args.write:
        write_counts(counts, transformers.__version__)
        preset_document.cache_clear()
        return 0
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
