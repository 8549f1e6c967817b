"""SGLang's default --mem-fraction-static by build: main's prefill CUDA-graph reserve and the cut
for multimodal models (calculator/engines/sglang_fraction.py), each figure worked by hand."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from calculator.engines.sglang_fraction import (VISION_DEFAULTS, default_mem_fraction,
                                                is_multimodal, prefill_graph_reserve,
                                                prefill_graph_sizes, vision_tower, vlm_factor)
from calculator.engines.sglang_startup import predict
from calculator.gpus import GPU_SPECS
from model_presets import load_preset
from tests.test_startup import cli

H100 = GPU_SPECS["H100 80GB"]


def test_prefill_graph_ladder():
    # 4..32 step 4 (8), 48..256 step 16 (14), 288..512 step 32 (8), 576..1024 step 64 (8),
    # 1280..4096 step 256 (12), 4608..8192 step 512 (8): 58 sizes, 50 up to 4096
    assert len(prefill_graph_sizes(8192)) == 58 and len(prefill_graph_sizes(4096)) == 50
    assert prefill_graph_sizes(8192)[-1] == 8192 and prefill_graph_sizes(-1) == []


def test_vlm_cut_by_hand():
    # 27 · 1152² / (24 · 1024²) = 35,831,808 / 25,165,824 = 1.423828125
    # 0.95 · (1 − 0.1 · 0.423828125) = 0.95 · 0.9576171875
    assert vlm_factor(27, 1152) == 0.95 * 0.9576171875
    assert vlm_factor(24, 1024) == 0.95              # the ViT-L/14 baseline
    assert vlm_factor(32, 3584) == 0.95 * 0.8        # clamped: ratio 16.33


def test_qwen35_on_h100_main_derives_then_cuts():
    s = predict(load_preset("qwen3.5-27b"), H100)
    # 13,440 MiB + 464 (its prefill graph runs: Qwen3.5 is on the breakable allowlist) → 0.830,
    # then × 0.909736328125 in float, not rounded again: SGLang prints 0.75508115234375
    assert s.derived_fraction == Fraction("0.83") and s.prefill_graph_mib == 464.0
    assert float(s.mem_fraction_static) == 0.83 * (0.95 * 0.9576171875) == 0.75508115234375
    # the v0.5 build: 0.835 × the same cut
    old = predict(load_preset("qwen3.5-27b"), H100, version="0.5")
    assert float(old.mem_fraction_static) == 0.835 * (0.95 * 0.9576171875)
    # a given fraction is never cut
    assert predict(load_preset("qwen3.5-27b"), H100, mem_fraction_static="0.8").vlm_cut is None


@pytest.mark.parametrize("preset, tower, multimodal", [
    ("qwen3.5-27b", (27, 1152), True),          # vision_config.depth
    ("mistral-small-3.2-24b", (24, 1024), True),
    ("kimi-k2.5", (27, 1152), True),            # SGLang's KimiK25VisionConfig defaults (vt_* ignored)
    ("gemma-4-26b-a4b", (27, 1152), True),      # nested text_config
    ("gemma-3-27b", (27, 1152), False),         # served text-only unless --enable-multimodal
    ("llama-4-scout", (34, 1408), False),
    ("llama-3.1-8b", None, False),
])
def test_which_models_are_cut(preset, tower, multimodal):
    config = load_preset(preset).config
    assert vision_tower(config) == tower and is_multimodal(config) is multimodal


def test_vision_defaults_match_the_config_classes():
    transformers = pytest.importorskip("transformers")
    classes = {"gemma3": "SiglipVisionConfig", "gemma4": "Gemma4VisionConfig",
               "llama4": "Llama4VisionConfig", "mistral3": "PixtralVisionConfig",
               "kimi_k25": "Kimi_K25VisionConfig", "mllama": "MllamaVisionConfig",
               "qwen2_vl": "Qwen2VLVisionConfig", "qwen2_5_vl": "Qwen2_5_VLVisionConfig",
               "qwen3_vl": "Qwen3VLVisionConfig", "qwen3_vl_moe": "Qwen3VLMoeVisionConfig",
               "qwen3_5": "Qwen3_5VisionConfig", "qwen3_5_moe": "Qwen3_5MoeVisionConfig",
               "glm4v": "Glm4vVisionConfig", "glm4v_moe": "Glm4vMoeVisionConfig"}
    assert set(classes) == set(VISION_DEFAULTS)
    for model_type, (layers, width, from_depth) in VISION_DEFAULTS.items():
        cls = getattr(transformers, classes[model_type])
        c = cls()
        assert (c.num_hidden_layers, c.hidden_size) == (layers, width), model_type
        assert (getattr(cls, "attribute_map", {}).get("num_hidden_layers") == "depth") is from_depth


def test_prefill_graph_reserve_rules():
    llama = load_preset("llama-3.1-8b").config
    assert prefill_graph_reserve(llama, mla=False, chunk=8192) == (464.0, "prefill graph: 58 sizes × 8 MiB")
    assert prefill_graph_reserve(llama, mla=True, chunk=8192)[0] == 1536.0
    assert prefill_graph_reserve(llama, mla=False, chunk=8192, pp=2)[0] == 0.0
    assert prefill_graph_reserve(llama, mla=False, chunk=8192, kda=True)[0] == 0.0
    assert prefill_graph_reserve(llama, mla=False, chunk=-1)[0] == 0.0      # chunked prefill off
    # "llama-2" in the model path caps the graph at 4096 tokens: 50 sizes
    assert prefill_graph_reserve(llama, mla=False, chunk=8192, model_path="Llama-2-7B")[0] == 400.0
    mistral = load_preset("mistral-small-3.2-24b").config
    assert prefill_graph_reserve(mistral, mla=False, chunk=8192)[0] == 0.0  # off its allowlists
    # Kimi-K2.5: moved to the piecewise graph (its allowlist), MLA: 1.5 GiB
    assert prefill_graph_reserve(load_preset("kimi-k2.5").config, mla=True, chunk=8192)[0] == 1536.0


def test_deepseek_v2_lite_main_reserve_by_hand():
    s = predict(load_preset("deepseek-v2-lite"), H100)
    # 13,440 + 1,536 = 14,976 MiB → round((81,559 − 14,976) / 81,559, 3) = round(0.81638, 3)
    assert s.mem_fraction_static == Fraction("0.816")
    assert default_mem_fraction(81_559, 1, version="main", prefill_graph_mib=1536) == Fraction("0.816")


def test_v04_refuses_a_multimodal_default_and_cli_says_so():
    with pytest.raises(ValueError, match="engine-version: SGLang v0.4 builds cut"):
        predict(load_preset("qwen3.5-27b"), H100, version="0.4")
    out = cli("--preset", "qwen3.5-27b", "--engine", "sglang", "--gpu", "H100 80GB",
              "--engine-version", "0.4", "--format", "json")
    assert out.returncode != 0 and out.stderr.strip().count("\n") == 0
    assert "--engine-version: SGLang v0.4 builds cut" in out.stderr
    row = json.loads(cli("--preset", "qwen3.5-27b", "--engine", "sglang", "--gpu", "H100 80GB",
                         "--format", "json").stdout)
    assert row["vlm_cut"] == 0.95 * 0.9576171875 and row["mem_fraction_static"] == "0.75508115234375"


def test_default_fraction_on_b200_and_mi300x_by_hand():
    llama = load_preset("llama-3.1-8b")
    # B200, nvidia-smi 183,359 MiB (over 160 GiB: chunk 16,384, decode graphs to 512); main adds
    # the prefill graph's 74 sizes up to 16,384 (8 + 14 + 8 + 8 + 12 + 24) · 8 = 592 MiB:
    # 512 + 16,384 · 1.5 + 512 · 2 + 1/8 · 1024 + 592 = 26,832 MiB
    # → round((183,359 − 26,832) / 183,359, 3) = round(0.85366, 3) = 0.854
    assert len(prefill_graph_sizes(16384)) == 74
    b200 = predict(llama, GPU_SPECS["B200 180GB"])
    assert (b200.chunked_prefill_size, b200.cuda_graph_max_bs) == (16384, 512)
    assert b200.prefill_graph_mib == 592.0 and b200.mem_fraction_static == Fraction("0.854")
    # MI300X: SGLang reads 196,592 MiB (rocm-smi's 206,141,652,992 B); on ROCm the default
    # prefill backend is tc_piecewise, off on non-CUDA hardware, so no prefill reserve:
    # 512 + 24,576 + 1,024 + 128 = 26,240 → round((196,592 − 26,240) / 196,592, 3) = 0.867
    assert GPU_SPECS["MI300X 192GB"].smi_mib * (1 << 20) == 206_141_652_992
    mi300x = predict(llama, GPU_SPECS["MI300X 192GB"])
    assert mi300x.prefill_graph_mib == 0.0 and "ROCm" in mi300x.prefill_graph_why
    assert mi300x.mem_fraction_static == Fraction("0.867")
    assert prefill_graph_reserve(llama.config, mla=True, chunk=8192, cuda=False)[0] == 0.0
    # the cards the startup issue names all carry the capacity SGLang derives its default from,
    # except MI325X and MI355X (no rocm-smi line read) and the GB10 (nvidia-smi prints no memory
    # there)
    missing = {name for name, g in GPU_SPECS.items() if g.smi_mib is None}
    assert missing == {"MI325X 256GB", "MI355X 288GB", "DGX Spark GB10"}
