"""Presets against their full config.json files: same cache bytes, and parameter counts that
transformers reproduces on the meta device (python -m model_presets.param_counts)."""

import pytest

from calculator import from_hf_config, kv_cache_bytes
from model_presets import list_presets, load_preset, preset_document
from model_presets.param_counts import count_parameters, full_config, main

# Gemma 2's published config.json says float32 (the checkpoint's dtype); the presets serve bf16.
DTYPE_DIFFERS = {"gemma-2-9b", "gemma-2-27b"}


@pytest.mark.parametrize("name", list_presets())
def test_full_config_gives_the_preset_cache(name):
    full, preset = from_hf_config(full_config(name)), load_preset(name)
    assert full.groups == preset.groups and full.max_context == preset.max_context
    assert (full.dtype == preset.dtype) != (name in DTYPE_DIFFERS)
    for ctx in (1, 4097, 262_144):
        assert kv_cache_bytes(full, ctx, 3).total_bytes == kv_cache_bytes(preset, ctx, 3).total_bytes


def test_param_counts_script_reproduces_every_stored_count(capsys):
    assert main([]) == 0  # exit 1 if any stored count differs
    out = capsys.readouterr().out
    assert out.count(" ok") == len(list_presets())


def test_known_counts_by_hand():
    # Llama-3.1-8B: embed + head 2·128,256·4096 + 32 layers · (attn 4096·(4096+1024+1024+4096)
    #   + mlp 3·4096·14,336 + 2 norms · 4096) + final norm 4096
    per_layer = 4096 * (4096 + 1024 + 1024 + 4096) + 3 * 4096 * 14336 + 2 * 4096
    assert count_parameters(full_config("llama-3.1-8b")) == 2 * 128256 * 4096 + 32 * per_layer + 4096 == 8_030_261_248
    # GPT-2 ties its head to the embedding: counted once -> 124,439,808
    assert preset_document("gpt2")["param_count"] == count_parameters(full_config("gpt2")) == 124_439_808


def test_remote_code_configs_are_mapped_not_run():
    cfg = full_config("kimi-k2")
    assert cfg["model_type"] == "kimi_k2" and "auto_map" in cfg
    # 1,026,408,232,448 = the DeepseekV3 shapes Kimi-K2's own configuration_deepseek.py declares
    assert count_parameters(cfg) == preset_document("kimi-k2")["param_count"] == 1_026_408_232_448


def test_mistral_v0_3_has_no_window_where_v0_1_keeps_4096():
    v3, v1 = load_preset("mistral-7b-v0.3"), load_preset("mistral-7b-v0.1")
    # 32,768 tokens · 32 layers · 8 KV heads · (128 + 128) · 2 B = 4 GiB; v0.1 keeps its last 4,096
    assert kv_cache_bytes(v3, 32_768).total_bytes == 32_768 * 32 * 8 * 256 * 2 == 4 << 30
    assert kv_cache_bytes(v1, 32_768).total_bytes == 4_096 * 32 * 8 * 256 * 2
    assert preset_document("mistral-7b-v0.3")["param_count"] == 7_248_023_552
