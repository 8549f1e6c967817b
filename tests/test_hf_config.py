"""config.json import: every trap in DESIGN.md, with the real model behind it, and bad input."""
import pytest

from calculator import from_hf_config, kv_cache_bytes, per_token_bytes
from calculator.load import parse_config_text
from model_presets import load_preset

BASE = {"num_hidden_layers": 4, "hidden_size": 512, "num_attention_heads": 8,
        "num_key_value_heads": 2, "max_position_embeddings": 4096}


def kinds(model):
    return [s.kind for s in model.layer_specs()]


def test_explicit_head_dim_wins_over_hidden_over_heads():
    # Qwen3-235B: head_dim 128, hidden/heads = 64. 94 · 4 · (128+128) · 2 B.
    assert per_token_bytes(load_preset("qwen3-235b-a22b")) == 94 * 4 * 256 * 2 == 192_512


def test_gpt2_key_names():
    # n_layer 12, n_head 12, n_embd 768 → MHA head_dim 64: 12 · 12 · 128 · 2 B
    m = load_preset("gpt2")
    assert (m.num_layers, m.num_attention_heads, m.max_context) == (12, 12, 1024)
    assert per_token_bytes(m) == 12 * 12 * 128 * 2 == 36_864


def test_falcon_multi_query_overrides_written_kv_heads():
    # Falcon-7B as published: 71 heads, hidden 4544 (head 64), multi_query → 1 KV head.
    cfg = {"model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71,
           "num_hidden_layers": 32, "multi_query": True, "new_decoder_architecture": False,
           "num_kv_heads": 71, "torch_dtype": "bfloat16"}
    m = from_hf_config(cfg)
    assert per_token_bytes(m) == 32 * 1 * 128 * 2 == 8192
    assert m.max_context == 2048  # FalconConfig default
    # Falcon-40B: new decoder architecture uses num_kv_heads (8) even with multi_query.
    cfg40 = {"model_type": "falcon", "hidden_size": 8192, "n_head": 128, "n_layer": 60,
             "multi_query": True, "new_decoder_architecture": True, "num_kv_heads": 8}
    # 60 layers · 8 KV heads · (64+64) · 2 B, head_dim = 8192 / 128 = 64
    assert per_token_bytes(from_hf_config(cfg40)) == 60 * 8 * 128 * 2 == 122_880


def test_qwen_sliding_window_ignored_when_use_sliding_window_false():
    # Qwen2.5-7B writes sliding_window 131072 with use_sliding_window false: full attention.
    m = load_preset("qwen2.5-7b")
    assert set(kinds(m)) == {"full"}
    # 200k tokens: 28 layers · 4 heads · 256 · 2 B · 200,000 (a window would cap at 131,072)
    assert kv_cache_bytes(m, 200_000).kv_bytes == 28 * 4 * 256 * 2 * 200_000


def test_qwen2_max_window_layers_when_window_enabled():
    cfg = {**BASE, "model_type": "qwen2", "use_sliding_window": True, "sliding_window": 256,
           "max_window_layers": 2}
    assert kinds(from_hf_config(cfg)) == ["full", "full", "sliding", "sliding"]


def test_mistral_window_on_every_layer():
    assert set(kinds(load_preset("mistral-7b-v0.1"))) == {"sliding"}


def test_layer_types_list_gpt_oss():
    m = load_preset("gpt-oss-120b")
    assert kinds(m) == ["sliding", "full"] * 18
    # at 8192 tokens: 18 layers × 128 + 18 × 8192 tokens, 8 heads · 128 · 2 B per token-layer
    assert kv_cache_bytes(m, 8192).kv_bytes == 18 * (128 + 8192) * 8 * 128 * 2


def test_layer_types_validated():
    with pytest.raises(ValueError, match="^layer_types"):
        from_hf_config({**BASE, "layer_types": ["full_attention"] * 3})
    with pytest.raises(ValueError, match="^layer_types"):
        from_hf_config({**BASE, "layer_types": ["full_attention"] * 3 + ["banana"]})


def test_gemma2_alternates_without_a_list():
    m = load_preset("gemma-2-9b")
    assert kinds(m) == ["sliding", "full"] * 21
    # 8192 tokens: 21 layers hold 4096, 21 hold 8192; 8 heads · (256+256) · 2 B = 8192 B each
    assert kv_cache_bytes(m, 8192).kv_bytes == 21 * 8192 * (4096 + 8192) == 2_113_929_216


def test_gemma3_pattern_and_text_config_defaults():
    m = load_preset("gemma-3-27b")
    full = [i for i, k in enumerate(kinds(m)) if k == "full"]
    assert full == [5, 11, 17, 23, 29, 35, 41, 47, 53, 59]
    assert m.max_context == 131072  # Gemma3TextConfig default; the official text_config omits it
    # 32k: 10 global × 32768 + 52 local × 1024 tokens; 16 heads · 256 · 2 B = 8192 B per token-layer
    assert kv_cache_bytes(m, 32768).kv_bytes == (10 * 32768 + 52 * 1024) * 8192


def test_qwen3_next_full_attention_interval_and_state():
    m = load_preset("qwen3-next-80b-a3b")
    full = [i for i, k in enumerate(kinds(m)) if k == "full"]
    assert full == list(range(3, 48, 4))
    # 12 full layers · 2 heads · (256+256) · 2 B per token
    assert per_token_bytes(m) == 12 * 2 * 512 * 2 == 24_576
    # 36 DeltaNet layers: conv (2·16·128 + 32·128 = 8192) × 3 + recurrent 32·128·128, bf16
    assert kv_cache_bytes(m, 1).state_bytes == 36 * (8192 * 3 + 32 * 128 * 128) * 2 == 39_518_208


def test_jamba_period_offset_and_mamba_state():
    cfg = {"model_type": "jamba", "num_hidden_layers": 32, "hidden_size": 4096,
           "num_attention_heads": 32, "num_key_value_heads": 8, "attn_layer_period": 8,
           "attn_layer_offset": 4, "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2,
           "max_position_embeddings": 262144, "torch_dtype": "bfloat16"}
    m = from_hf_config(cfg)
    assert [i for i, k in enumerate(kinds(m)) if k == "full"] == [4, 12, 20, 28]
    # Jamba-1.5 paper: 4 GB (GiB) at 256K: 4 layers · 8 heads · 256 · 2 B · 262,144 tokens
    assert kv_cache_bytes(m, 262_144).kv_bytes == 4 * 8 * 256 * 2 * 262_144 == 4 * 2**30
    # 28 mamba layers: d_inner 8192 × ((4-1) + 16) elements · 2 B
    assert kv_cache_bytes(m, 1).state_bytes == 28 * 8192 * 19 * 2


def test_minimax_attn_type_list():
    types = [0] * 7 + [1]
    cfg = {**BASE, "num_hidden_layers": 8, "head_dim": 64, "attn_type_list": types}
    m = from_hf_config(cfg)
    assert kinds(m) == ["state"] * 7 + ["full"]
    # 7 lightning layers: 8 heads × 64 × 64 state, bf16 default
    assert kv_cache_bytes(m, 1).state_bytes == 7 * 8 * 64 * 64 * 2


def test_mla_ignores_num_key_value_heads():
    m = load_preset("kimi-k2")
    assert per_token_bytes(m) == 61 * 576 * 2 == 70_272
    cfg = {**BASE, "kv_lora_rank": 64, "qk_rope_head_dim": 16, "num_key_value_heads": 3}
    assert per_token_bytes(from_hf_config(cfg)) == 4 * 80 * 2  # 3 doesn't divide 8, unused


def test_kv_sharing_layers_add_nothing():
    cfg = {**BASE, "num_kv_shared_layers": 2}
    m = from_hf_config(cfg)
    assert kinds(m) == ["full", "full", "shared", "shared"]
    assert per_token_bytes(m) == 2 * 2 * 128 * 2  # two layers · 2 heads · (64+64) · 2 B


def test_mimo_v2_hybrid_pattern_narrow_v_and_swa_geometry():
    # MiMo-V2-Flash: hybrid_layer_pattern 1 = sliding; global layers 4 KV heads, sliding 8;
    # K 192, V 128 wide; the window given as sliding_window_size, which transformers'
    # MimoV2FlashConfig turns into sliding_window_size + 1 = 129 tokens.
    pattern = [0] + [1] * 4 + ([0] + [1] * 5) * 7 + [0]
    cfg = {"model_type": "mimo_v2_flash", "num_hidden_layers": 48, "hidden_size": 4096,
           "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 192, "v_head_dim": 128,
           "swa_num_key_value_heads": 8, "swa_head_dim": 192, "swa_v_head_dim": 128,
           "sliding_window_size": 128, "hybrid_layer_pattern": pattern, "torch_dtype": "bfloat16"}
    m = from_hf_config(cfg)
    full, = [g for g in m.groups if g.spec.kind == "full"]
    swa, = [g for g in m.groups if g.spec.kind == "sliding"]
    assert (full.count, swa.count, m.model_type) == (9, 39, "mimo_v2_flash")
    assert (full.spec.num_kv_heads, full.spec.head_dim_k, full.spec.head_dim_v) == (4, 192, 128)
    assert (swa.spec.num_kv_heads, swa.spec.window) == (8, 129)
    # 4,096 tokens, bf16: 9 · 4,096 · 4 · (192 + 128) · 2 + 39 · 129 · 8 · 320 · 2 B
    assert kv_cache_bytes(m, 4096, 1, "bf16").total_bytes == 9 * 4096 * 4 * 640 + 39 * 129 * 8 * 640
    with pytest.raises(ValueError, match="^hybrid_layer_pattern"):
        from_hf_config({**cfg, "hybrid_layer_pattern": pattern[:-1]})


@pytest.mark.parametrize("cfg, field", [
    ({k: v for k, v in BASE.items() if k != "num_hidden_layers"}, "num_hidden_layers"),
    ({**BASE, "num_key_value_heads": 3}, "num_key_value_heads"),
    ({**BASE, "num_hidden_layers": 0}, "num_hidden_layers"),
    ({**BASE, "num_hidden_layers": -4}, "num_hidden_layers"),
    ({**BASE, "num_attention_heads": "8"}, "num_attention_heads"),
    ({**BASE, "hidden_size": 500, "num_attention_heads": 3, "num_key_value_heads": 1}, "head_dim"),
    ({**BASE, "text_config": [1, 2]}, "text_config"),
    ({**BASE, "torch_dtype": "float7"}, "torch_dtype"),
    ({**BASE, "sliding_window": -1}, "sliding_window"),
    ({**BASE, "layer_types": ["sliding_attention"] * 4}, "sliding_window"),
    ({**BASE, "num_hidden_layers": 10**9}, "num_hidden_layers"),
    ({**BASE, "kv_lora_rank": 512}, "qk_rope_head_dim"),
    ([1, 2, 3], "config"),
    ({"model_type": [], "text_config": {}}, "model_type"),  # found by a 20,000-example run
])
def test_bad_configs_name_the_field(cfg, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        from_hf_config(cfg)


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("{" + " " * (1 << 20) + "}", "limit"),
    ("[" * 100_000, "not valid JSON"),
])
def test_bad_config_text(text, message):
    with pytest.raises(ValueError, match=message):
        parse_config_text(text)


LLAMA4_SCOUT_TEXT = {"model_type": "llama4_text", "num_hidden_layers": 48, "hidden_size": 5120,
                     "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
                     "attention_chunk_size": 8192, "max_position_embeddings": 10_485_760}


def test_llama4_chunked_layers_with_every_fourth_global():
    # transformers Llama4TextConfig: no_rope_layers defaults to int((i + 1) % 4 != 0); the NoPE
    # layers (3, 7, ..., 47) attend globally, the other 36 in 8192-token chunks
    model = from_hf_config({"model_type": "llama4", "text_config": LLAMA4_SCOUT_TEXT})
    assert model.describe() == "GQA + sliding 8192 (36/48 layers)"
    full = [i for g in model.groups if g.spec.window is None for i in g.layers]
    assert full == list(range(3, 48, 4))
    # 12 × 10,485,760 × 4,096 + 36 × 8,192 × 4,096 B (8 KV heads · 128 · 2 (K, V) · 2 B per layer)
    assert kv_cache_bytes(model, 10_485_760).total_bytes == 516_604_035_072


def test_llama4_no_rope_layers_as_written():
    flags = [1, 1, 0] * 16
    model = from_hf_config({**LLAMA4_SCOUT_TEXT, "no_rope_layers": flags})
    assert [i for g in model.groups if g.spec.window is None for i in g.layers] == list(range(2, 48, 3))
    with pytest.raises(ValueError, match="^no_rope_layers: expected 48 entries of 0 or 1"):
        from_hf_config({**LLAMA4_SCOUT_TEXT, "no_rope_layers": [1, 2]})


# Gemma 4 26B-A4B's text_config, trimmed to the cache-shaping keys as google/gemma-4-26B-A4B-it
# ships them (global layers: 2 KV heads × 512 with attention_k_eq_v; sliding: 8 × 256).
GEMMA4_26B_TEXT = {"model_type": "gemma4_text", "attention_k_eq_v": True, "global_head_dim": 512,
                   "head_dim": 256, "hidden_size": 2816, "num_attention_heads": 16,
                   "num_global_key_value_heads": 2, "num_hidden_layers": 30,
                   "num_key_value_heads": 8, "sliding_window": 1024,
                   "max_position_embeddings": 262144,
                   "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 5}


def test_gemma4_global_layers_have_their_own_heads_and_head_size():
    model = from_hf_config({"model_type": "gemma4", "text_config": GEMMA4_26B_TEXT,
                            "dtype": "bfloat16"})
    full = next(g for g in model.groups if g.spec.kind == "full")
    assert (full.count, full.spec.num_kv_heads, full.spec.head_dim_k) == (5, 2, 512)
    # 5 global layers · 262,144 · 2 · (512 + 512) · 2 B + 25 sliding · 1,024 · 8 · 512 · 2 B
    assert kv_cache_bytes(model, 262_144).total_bytes == \
        5 * 262_144 * 2 * 1024 * 2 + 25 * 1024 * 8 * 512 * 2 == 5_578_424_320
    # without attention_k_eq_v only the head size changes (Gemma4TextConfig.__post_init__)
    plain = from_hf_config({**GEMMA4_26B_TEXT, "attention_k_eq_v": False})
    assert next(g for g in plain.groups if g.spec.kind == "full").spec.num_kv_heads == 8
    # a written per_layer_config wins; the last layer is forced to full attention
    written = from_hf_config({**GEMMA4_26B_TEXT, "layer_types": ["sliding_attention"] * 30,
                              "per_layer_config": {"29": {"head_dim": 128,
                                                          "num_key_value_heads": 4}}})
    last = written.layer_specs()[29]
    assert (last.kind, last.num_kv_heads, last.head_dim_k) == ("full", 4, 128)
    with pytest.raises(ValueError, match="^per_layer_config"):
        from_hf_config({**GEMMA4_26B_TEXT, "per_layer_config": {"x": {}}})
    with pytest.raises(ValueError, match="^num_key_value_heads"):
        from_hf_config({**GEMMA4_26B_TEXT, "num_global_key_value_heads": 3})


LFM2_1_2B = {"model_type": "lfm2", "hidden_size": 2048, "num_hidden_layers": 16,
             "num_attention_heads": 32, "num_key_value_heads": 8, "conv_L_cache": 3,
             "full_attn_idxs": [2, 5, 8, 10, 12, 14], "max_position_embeddings": 128000,
             "torch_dtype": "bfloat16"}


def test_lfm2_short_conv_layers_hold_a_conv_state_only():
    model = from_hf_config(LFM2_1_2B)
    kinds = [s.kind for s in model.layer_specs()]
    assert kinds.count("full") == 6 and kinds.count("state") == 10
    # 6 attention layers · 1,000 tokens · 8 · (64 + 64) · 2 B + 10 conv states 2,048 × 2 · 2 B
    assert kv_cache_bytes(model, 1000).total_bytes == 6 * 1000 * 8 * 128 * 2 + 10 * 2048 * 2 * 2
    newer = dict(LFM2_1_2B, layer_types=["full_attention" if i in (2, 5, 8, 10, 12, 14) else "conv"
                                          for i in range(16)])
    del newer["full_attn_idxs"]
    assert from_hf_config(newer).groups == model.groups
    with pytest.raises(ValueError, match="^full_attn_idxs"):
        from_hf_config({**LFM2_1_2B, "full_attn_idxs": [16]})


NEMOTRON_H = {"model_type": "nemotron_h", "hidden_size": 2688, "num_attention_heads": 32,
              "num_key_value_heads": 2, "head_dim": 128, "mamba_num_heads": 64,
              "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8, "conv_kernel": 4,
              "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EM", "torch_dtype": "bfloat16",
              "max_position_embeddings": 262144}


def test_nemotron_h_mamba2_attention_and_cacheless_blocks():
    model = from_hf_config(NEMOTRON_H)
    kinds = [s.kind for s in model.layer_specs()]
    assert kinds.count("full") == 3 and kinds.count("state") == 10 and len(kinds) == 13
    # 3 attention · 1,000 · 2 · 256 · 2 B + 10 · (conv (4,096 + 2·8·128) × 3 · 2 B
    #                                            + ssm 64 × 64 × 128 · 4 B, vLLM's float32 default)
    assert kv_cache_bytes(model, 1000).total_bytes == \
        3 * 1000 * 2 * 256 * 2 + 10 * (6144 * 3 * 2 + 64 * 64 * 128 * 4)
    newest = {k: v for k, v in NEMOTRON_H.items() if k != "hybrid_override_pattern"}
    newest["layers_block_type"] = ["mamba" if c == "M" else "moe" if c == "E" else "attention"
                                   for c in NEMOTRON_H["hybrid_override_pattern"]]
    assert from_hf_config(newest).groups == model.groups  # no num_hidden_layers needed
    bf16 = from_hf_config({**NEMOTRON_H, "mamba_ssm_cache_dtype": "bfloat16"})
    assert kv_cache_bytes(bf16, 1).state_bytes == 10 * (6144 * 3 * 2 + 64 * 64 * 128 * 2)
    with pytest.raises(ValueError, match="^layers_block_type"):
        from_hf_config({**NEMOTRON_H, "hybrid_override_pattern": "MX*"})
    with pytest.raises(ValueError, match="^mamba_ssm_cache_dtype"):
        from_hf_config({**NEMOTRON_H, "mamba_ssm_cache_dtype": "q8_0"})


def test_nemotron_h_llamacpp_counts_every_block_in_its_recurrent_line():
    from calculator.engines.llamacpp import plan as llamacpp_plan
    lines = "\n".join(llamacpp_plan(from_hf_config(NEMOTRON_H), n_ctx=4096).log_lines())
    # llama.cpp's n_layer is 22 blocks; R = 10 · 6,144 × 3 · 4 B = 0.70 MiB, S = 10 · 64·64·128 · 4 B = 20 MiB
    assert "22 layers" in lines and "R (f32):    0.70 MiB, S (f32):   20.00 MiB" in lines


def test_qwen3_5_hybrid_as_shipped():
    # Qwen/Qwen3.5-397B-A17B config.json as vendored by ai-dynamo/aiconfigurator @ 87fe4b0c
    import json
    from pathlib import Path
    cfg = json.loads((Path(__file__).parent / "configs" / "qwen3.5-397b-a17b.json").read_text())
    model = from_hf_config(cfg)
    # 15 attention layers · 262,144 · 2 KV heads · (256 + 256) · 2 B
    # + 45 DeltaNet layers · (conv (2·16·128 + 64·128 = 12,288) × 3 · 2 B + 64 × 128 × 128 · 2 B)
    assert kv_cache_bytes(model, 262_144).total_bytes == \
        15 * 262_144 * 2 * 512 * 2 + 45 * (12_288 * 3 * 2 + 64 * 128 * 128 * 2) == 8_150_753_280


def test_kimi_k25_wrapper_reads_its_k2_text_model():
    # Kimi-K2.5 ships KimiK25ForConditionalGeneration: a MoonViT tower plus the K2 text model in
    # text_config (transformers 5.23.0 KimiK25Config maps its kimi_k2 model_type to deepseek_v3)
    from model_presets import checkpoint_config, load_preset
    k2 = checkpoint_config("kimi-k2")
    wrapped = {"architectures": ["KimiK25ForConditionalGeneration"], "model_type": "kimi_k25",
               "text_config": k2, "vision_config": {"vt_num_hidden_layers": 27}}
    m = from_hf_config(wrapped)
    assert m.groups == load_preset("kimi-k2").groups and m.attention == "MLA"
    # 61 layers · 131,072 tokens · 576 · 2 B
    assert kv_cache_bytes(m, 131072).total_bytes == 61 * 131072 * 576 * 2


def test_mimo_window_is_sliding_window_size_plus_one_and_vllm_keeps_128():
    # MimoV2FlashConfig.__post_init__: sliding_window = sliding_window_size + 1 (the reference
    # attends to 128 previous tokens plus the query); vLLM's MiMoV2FlashDecoderLayer passes 128
    import json
    from calculator.engines.vllm import layer_specs
    from calculator.load import model_from_config_text
    cfg = {"model_type": "mimo_v2_flash", "num_hidden_layers": 6, "hidden_size": 4096,
           "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 192, "v_head_dim": 128,
           "swa_num_key_value_heads": 8, "sliding_window": 128, "sliding_window_size": 128,
           "hybrid_layer_pattern": [0, 1, 1, 1, 1, 0], "torch_dtype": "bfloat16"}
    m = model_from_config_text(json.dumps(cfg), name="mimo")
    assert {g.spec.window for g in m.groups} == {None, 129}
    # 4 sliding layers · 8 heads · (192 + 128) · 2 B per token, up to 129 tokens
    assert kv_cache_bytes(m, 1000).total_bytes == 1000 * 2 * 4 * 320 * 2 + 129 * 4 * 8 * 320 * 2
    assert {s.window for s in layer_specs(m)} == {None, 128}
    # without sliding_window_size the written window stands, as in transformers
    plain = from_hf_config({k: v for k, v in cfg.items() if k != "sliding_window_size"})
    assert {g.spec.window for g in plain.groups} == {None, 128}


MINIMAX_M3_SHAPE = {"model_type": "minimax_m3", "num_hidden_layers": 60, "hidden_size": 6144,
                    "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128}


def test_minimax_m3_sparse_attention_is_refused_unless_off():
    # MiniMax-M3 (aiconfigurator's copy of its config.json) keeps block-sparse index keys
    # (sparse_index_dim 128, 4 index heads) beside K and V: plain GQA would leave them out
    with pytest.raises(ValueError, match="^sparse_attention_config: MiniMax-M3's block-sparse"):
        from_hf_config({**MINIMAX_M3_SHAPE, "sparse_attention_config": {
            "use_sparse_attention": True, "sparse_index_dim": 128, "sparse_num_index_heads": 4}})
    off = from_hf_config({**MINIMAX_M3_SHAPE, "sparse_attention_config": {"use_sparse_attention": False}})
    assert per_token_bytes(off) == 60 * 4 * 256 * 2

