"""The worked examples of DESIGN.md and the published per-token figures, to the byte."""
from calculator import (FullAttentionSpec, MLASpec, as_variant, from_hf_config, get_dtype,
                        kv_cache_bytes, per_token_bytes)
from model_presets import load_preset

LLAMA3_70B = load_preset("llama-3-70b")


def test_llama3_70b_as_mha_b8_s1000_fp16():
    # 80 layers · 8 seqs · 1000 tokens · 64 heads · 2 (K,V) · 128 dims · 2 bytes
    m = as_variant(LLAMA3_70B, "mha")
    assert kv_cache_bytes(m, 1000, 8, "fp16").kv_bytes == 80 * 8 * 1000 * 64 * 2 * 128 * 2 == 20_971_520_000


def test_llama3_70b_as_mqa_and_real_gqa():
    # MQA: 80·8·1000·1·2·128·2; the real model has 8 KV heads: 80·8·1000·8·2·128·2
    assert kv_cache_bytes(as_variant(LLAMA3_70B, "mqa"), 1000, 8, "fp16").kv_bytes == 327_680_000
    assert kv_cache_bytes(LLAMA3_70B, 1000, 8, "fp16").kv_bytes == 2_621_440_000
    gqa8 = as_variant(LLAMA3_70B, "gqa", kv_heads=8)
    assert kv_cache_bytes(gqa8, 1000, 8, "fp16").kv_bytes == 2_621_440_000


def test_llama3_70b_as_mla():
    # 80 layers · 8 seqs · 1000 tokens · (512 + 64) · 2 bytes = 737,280,000 (not the seed's 0.83 GB)
    m = as_variant(LLAMA3_70B, "mla", kv_lora_rank=512, rope_head_dim=64)
    assert kv_cache_bytes(m, 1000, 8, "fp16").kv_bytes == 80 * 8 * 1000 * 576 * 2 == 737_280_000


def test_toy_model_per_layer():
    # B=1, S=3, d_model=8, 2 heads of 4, fp16, one layer.
    toy = from_hf_config({"num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 2,
                          "max_position_embeddings": 16})
    assert kv_cache_bytes(toy, 3, 1, "fp16").kv_bytes == 3 * 2 * 2 * 4 * 2 == 96   # MHA
    assert kv_cache_bytes(as_variant(toy, "mqa"), 3, 1, "fp16").kv_bytes == 3 * 1 * 2 * 4 * 2 == 48
    assert kv_cache_bytes(as_variant(toy, "gqa", kv_heads=1), 3, 1, "fp16").kv_bytes == 48
    mla = as_variant(toy, "mla", kv_lora_rank=2, rope_head_dim=1)
    assert kv_cache_bytes(mla, 3, 1, "fp16").kv_bytes == 3 * (2 + 1) * 2 == 18


def test_deepseek_isca_per_token_figures():
    # DeepSeek ISCA'25 Table 1, bf16, KB = 1000 B.
    assert per_token_bytes(load_preset("deepseek-v3")) == (512 + 64) * 61 * 2 == 70_272
    assert per_token_bytes(load_preset("qwen2.5-72b")) == 2 * 80 * 8 * 128 * 2 == 327_680
    assert per_token_bytes(load_preset("llama-3.1-405b")) == 2 * 126 * 8 * 128 * 2 == 516_096
    assert per_token_bytes(load_preset("llama-3.1-8b")) == 2 * 32 * 8 * 128 * 2 == 131_072


def test_deepseek_v3_mtp_layer_is_optional():
    # 62 layers with the MTP module: (512 + 64) · 62 · 2
    assert per_token_bytes(load_preset("deepseek-v3", include_mtp=True)) == 576 * 62 * 2 == 71_424


def test_mistral_window_saves_8x_at_32k():
    # 32768 tokens held vs min(32768, 4096) = 4096 held: exactly 8x.
    windowed = load_preset("mistral-7b-v0.1")
    from model_presets import preset_document
    full = from_hf_config({**preset_document("mistral-7b-v0.1")["config"], "sliding_window": None})
    a = kv_cache_bytes(full, 32768, 1, "bf16").kv_bytes
    b = kv_cache_bytes(windowed, 32768, 1, "bf16").kv_bytes
    assert a == 32 * 32768 * 8 * 256 * 2 == 4 * 2**30
    assert a == 8 * b


def test_deepseek_v2_mla_equals_gqa_with_2_25_groups():
    # (d_c + d_r) = 576 elements = 2.25 × (2 · d_h) with d_h = 128, so 4 · MLA = 9 · GQA(1 group).
    bf16 = get_dtype("bf16")
    mla = MLASpec(kv_lora_rank=512, qk_rope_head_dim=64).per_token_bytes(bf16)
    one_group = FullAttentionSpec(num_kv_heads=1, head_dim_k=128, head_dim_v=128).per_token_bytes(bf16)
    assert 4 * mla == 9 * one_group == 4608
    assert per_token_bytes(load_preset("deepseek-v2")) == 576 * 60 * 2 == 69_120


def test_vllm_log_llama31_8b_paged_blocks():
    # vLLM#10517: 1952 blocks × 16 tokens × 131,072 B = 3.8125 GiB.
    m = load_preset("llama-3.1-8b")
    b = kv_cache_bytes(m, 1952 * 16, 1, "bf16", layout="paged")
    assert b.kv_bytes == 1952 * 16 * 131_072 == 4_093_640_704 == 61 * 2**30 // 16


def test_qwen3_235b_tp4_per_gpu_per_token():
    # vLLM#21348: 4 KV heads over TP4 → 1 head per GPU: 94 layers · 1 · (128+128) · 2 B = 48,128.
    m = load_preset("qwen3-235b-a22b")
    b = kv_cache_bytes(m, 1, 1, "bf16", tp=4)
    assert b.per_gpu_kv_bytes == 94 * 1 * 256 * 2 == 48_128


def test_hf_blog_llama31_8b_128000_tokens():
    # HF Llama 3.1 blog: 8B at 128,000 tokens = 15.62 GB (GiB): 128,000 × 131,072 B.
    b = kv_cache_bytes(load_preset("llama-3.1-8b"), 128_000, 1, "fp16")
    assert b.kv_bytes == 128_000 * 131_072 == 16_777_216_000  # = 15.625 GiB
