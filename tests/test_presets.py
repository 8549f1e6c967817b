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


def test_llama4_scout_preset_keeps_every_4th_layer_global():
    scout = load_preset("llama-4-scout")
    # 12 global layers × 10,485,760 tokens + 36 chunked layers × 8,192 tokens,
    # 8 KV heads · (128 + 128) · 2 B = 4,096 B per layer per token
    assert kv_cache_bytes(scout, 10_485_760).total_bytes == \
        12 * 10_485_760 * 4096 + 36 * 8192 * 4096 == 516_604_035_072
    assert preset_document("llama-4-scout")["param_count"] == 108_641_793_536


def test_gemma4_global_layers_use_their_own_heads():
    gemma = load_preset("gemma-4-26b-a4b")
    # 25 sliding layers: 8 heads · (256 + 256) · 2 B = 8,192 B/token, capped at 1,024 tokens;
    # 5 global layers: 2 heads · (512 + 512) · 2 B = 4,096 B/token
    assert kv_cache_bytes(gemma, 32_768).total_bytes == 25 * 1024 * 8192 + 5 * 32_768 * 4096


def test_presets_cover_the_current_families():
    names = set(list_presets())
    assert len(names) >= 40
    for family in ("llama-4-scout", "llama-4-maverick", "gemma-4-26b-a4b", "qwen3.5-27b",
                   "qwen3.5-397b-a17b", "glm-5", "glm-5.1", "deepseek-v3.2", "minimax-m2.5",
                   "nemotron-3-nano-30b-a3b", "mimo-v2-flash", "mistral-7b-v0.3", "lfm2-1.2b",
                   "phi-4", "mistral-small-24b", "granite-4.0-h-tiny", "olmo-3-7b", "olmo-3-32b", "mistral-small-3.2-24b"):
        assert family in names


def test_lfm2_keeps_kv_in_6_of_16_layers_and_a_conv_state_in_the_rest():
    lfm2 = load_preset("lfm2-1.2b")
    r = kv_cache_bytes(lfm2, 32_768)
    # 6 attention layers · 32,768 tokens · 8 KV heads · (64 + 64) · 2 B = 402,653,184 B;
    # 10 conv layers · hidden 2048 · (conv_L_cache 3 − 1) · 2 B = 81,920 B of state
    assert r.total_bytes == 6 * 32_768 * 8 * 128 * 2 + 10 * 2048 * 2 * 2 == 402_735_104
    # published 1,170,340,608: FFN width int(2 · 12,288 / 3) = 8,192 (already a multiple of 256)
    assert preset_document("lfm2-1.2b")["param_count"] == 1_170_340_608


def test_phi4_and_mistral_small_by_hand():
    # Phi-4 at its 16,384 positions: 40 layers · 10 KV heads · (128 + 128) · 2 B per token
    assert kv_cache_bytes(load_preset("phi-4"), 16_384).total_bytes == \
        16_384 * 40 * 10 * 256 * 2 == 3_355_443_200
    # Mistral-Small-24B at 32,768: 40 layers · 8 KV heads · (128 + 128) · 2 B, head_dim 128 as written
    assert kv_cache_bytes(load_preset("mistral-small-24b"), 32_768).total_bytes == \
        32_768 * 40 * 8 * 256 * 2 == 5 << 30
    # Phi-4: embed + head 2 · 100,352 · 5120 + 40 · (qkv 5120 · 7680 + o 5120² + gate_up 5120 · 35,840
    #   + down 17,920 · 5120 + 2 · 5120) + 5120
    per_layer = 5120 * 7680 + 5120 * 5120 + 5120 * 35_840 + 17_920 * 5120 + 2 * 5120
    assert preset_document("phi-4")["param_count"] == \
        2 * 100_352 * 5120 + 40 * per_layer + 5120 == 14_659_507_200


def test_mistral_small_3_2_is_the_3_0_text_model_plus_its_pixtral_tower():
    ms = load_preset("mistral-small-3.2-24b")
    # 40 layers · 8 KV heads · (128 + 128) · 2 B per token at its 131,072 positions
    assert kv_cache_bytes(ms, 131_072).total_bytes == 131_072 * 40 * 8 * 256 * 2 == 20 << 30
    # Pixtral: patch conv 1024 · 3 · 14², ln_pre 1024, 24 layers · (2 norms 2 · 1024 + MLP
    # 3 · 4096 · 1024 + q, k, v, o 4 · 1024²); projector: norm 1024, merger 1024 · 4 · 1024,
    # linear_1 5120 · 1024, linear_2 5120²
    layer = 2 * 1024 + 3 * 4096 * 1024 + 4 * 1024 * 1024
    tower = 1024 * 3 * 14 * 14 + 1024 + 24 * layer
    projector = 1024 + 1024 * 4096 + 5120 * 1024 + 5120 * 5120
    assert preset_document("mistral-small-3.2-24b")["param_count"] == \
        preset_document("mistral-small-24b")["param_count"] + tower + projector == 24_011_361_280


# Olmo-3: every 4th layer full, the rest sliding over 4,096 tokens; KV at 65,536 tokens and the
# transformers count (embed + untied head 2 · 100,278 · hidden, final norm), per layer by hand.
OLMO3 = [
    # 7B: 32 KV heads · (128 + 128) · 2 B = 16,384 B per layer per token, 8 full + 24 sliding;
    #   a layer: q, k, v, o 4 · 4096² + MLP 3 · 4096 · 11,008 + q/k norms and two post-norms 4 · 4096
    ("olmo-3-7b", 8 * 65_536 * 16_384 + 24 * 4096 * 16_384, 10_200_547_328, 4096, 32,
     4 * 4096 * 4096 + 3 * 4096 * 11_008 + 4 * 4096, 7_298_011_136),
    # 32B: 8 KV heads · 256 · 2 B = 4,096 B per layer per token, 16 full + 48 sliding; a layer:
    #   q, o 2 · 5120² + k, v 2 · 1024 · 5120 + MLP 3 · 5120 · 27,648 + q norm 5120 + k norm 1024
    #   + two post-norms 2 · 5120
    ("olmo-3-32b", 16 * 65_536 * 4096 + 48 * 4096 * 4096, 5_100_273_664, 5120, 64,
     2 * 5120 * 5120 + 2 * 1024 * 5120 + 3 * 5120 * 27_648 + 5120 + 1024 + 2 * 5120,
     32_233_522_176),
]


@pytest.mark.parametrize("name, kv, kv_total, hidden, layers, per_layer, count", OLMO3)
def test_olmo3_slides_three_layers_in_four(name, kv, kv_total, hidden, layers, per_layer, count):
    assert kv_cache_bytes(load_preset(name), 65_536).total_bytes == kv == kv_total
    assert preset_document(name)["param_count"] == \
        2 * 100_278 * hidden + layers * per_layer + hidden == count


def test_olmo3_without_layer_types_takes_transformers_defaults():
    # Olmo3Config: sliding_window 4096 and layer i slides unless (i + 1) % 4 == 0 when the file
    # leaves them out; before, such a file read as 32 windowed (or 32 full) layers
    base = {"model_type": "olmo3", "num_hidden_layers": 8, "hidden_size": 512,
            "num_attention_heads": 8, "max_position_embeddings": 65_536}
    spec = from_hf_config(base)
    # 2 full layers · 65,536 + 6 sliding · 4,096, at 8 KV heads · (64 + 64) · 2 B = 2,048 B
    assert kv_cache_bytes(spec, 65_536).total_bytes == (2 * 65_536 + 6 * 4096) * 2048


def test_granite_4_hybrid_preset_keeps_kv_in_4_of_40_blocks():
    granite = load_preset("granite-4.0-h-tiny")
    r = kv_cache_bytes(granite, 131_072)
    # 4 attention blocks · 4 KV heads · (128 + 128) · 2 B = 8,192 B/token → 1 GiB at 131,072;
    # 36 Mamba-2 blocks in bf16: conv (48·64 + 2·1·128 = 3,328) × (4 − 1) + SSM 48 × 64 × 128
    assert r.total_bytes - r.state_bytes == 131_072 * 8192 == 1 << 30
    assert r.state_bytes == 36 * (3328 * 3 + 48 * 64 * 128) * 2 == 29_030_400
