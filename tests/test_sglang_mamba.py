"""SGLang's Mamba pool for hybrid state models (sglang_mamba.py, read at sgl-project/sglang
001ccef0), against public starts of three hybrid geometries."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator.engines import sglang_pool
from calculator.engines.sglang_mamba import split, state
from calculator.hf_config import from_hf_config
from model_presets import load_preset

ROOT = Path(__file__).resolve().parents[1]
GiB = 1 << 30


def test_qwen3_next_state_slot_by_hand():
    # 36 gated DeltaNet layers: conv (2·16·128 + 32·128 = 8,192 channels) × 3 × 2 B (bfloat16) and
    # a float32 (32 heads, 128, 128) state per layer
    s = state(load_preset("qwen3-next-80b-a3b"))
    assert s.conv_bytes == 36 * 8192 * 3 * 2 == 1_769_472
    assert s.ssm_bytes == 36 * 32 * 128 * 128 * 4 == 75_497_472
    assert s.per_req == 77_266_944
    # TP 2 halves both (16 key heads, 32 value heads divide)
    assert state(load_preset("qwen3-next-80b-a3b"), 2).per_req == 77_266_944 // 2


def test_public_qwen3_next_start_reproduced():
    """A public SGLang start of Qwen3-Coder-Next-FP8 (the Qwen3-Next-80B geometry) on one H200
    printed max_mamba_cache_size 336, conv_state 0.56 GB, ssm_state 23.70 GB and a BF16 KV cache
    of 1,178,614 tokens, 26.98 GB (search index id 52518642424). The split rule gives both counts
    from one memory figure: 336 slots need rest · 0.9 / 1.9 in [336, 337) · 77,266,944 B and the
    token pool int(rest − 336 · 77,266,944) // 24,576 = 1,178,614 (12 full layers · 2 KV heads ·
    (256 + 256) · 2 B = 24,576 B per token); 1,178,614 · 24,576 + 336 · 77,266,944 =
    54,927,310,848 B lies inside the first window, so that is the memory given."""
    memory = 1_178_614 * 24_576 + 336 * 77_266_944
    assert memory == 54_927_310_848
    p = sglang_pool(load_preset("qwen3-next-80b-a3b"), kv_memory=memory)
    assert (p.mamba_size, p.tokens, p.cell_size) == (336, 1_178_614, 24_576)
    assert p.log_lines() == [
        "Mamba Cache is allocated. max_mamba_cache_size: 336, conv_state size: 0.56GB, "
        "ssm_state size: 23.70GB",
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 1178614, K size: 13.49 GB, "
        "V size: 13.49 GB"]
    # 337 slots (the padded slot 0) · 77,266,944 B; K and V 12 · 1,178,615 · 512 · 2 B each
    assert p.mamba_bytes == 337 * 77_266_944
    assert f"{(p.k_bytes + p.v_bytes) / GiB:.2f}" == "26.98"
    # one byte less and the token pool loses a token: the memory is pinned to 24,576 B
    assert sglang_pool(load_preset("qwen3-next-80b-a3b"), kv_memory=memory - 1).tokens == 1_178_613
    # at most 336 // 3 = 112 requests run at once, whatever the context
    assert p.max_requests(1024) == 112


def test_nemotron_3_nano_at_tp4_allocates_the_public_pools():
    """A public SGLang 0.5.21 start of a Nemotron-3-Nano Omni wrapper (the nemotron-3-nano
    geometry) at TP 4 with an fp8 cache printed max_mamba_cache_size 2211, conv_state 0.44 GB,
    ssm_state 24.84 GB and 19,644,177 tokens, K 14.05 GB (id 70117488909). Per rank: 23 Mamba-2
    layers of conv (6,144 / 4 = 1,536 channels) × 3 × 2 B and (64 / 4 = 16 heads, 64, 128) float32
    state; 6 attention layers of 2 // 4 → 1 KV head × 128 × 1 B."""
    model = load_preset("nemotron-3-nano-30b-a3b")
    s = state(model, 4)
    assert (s.conv_bytes, s.ssm_bytes) == (23 * 1536 * 3 * 2, 23 * 16 * 64 * 128 * 4)
    p = sglang_pool(model, tokens=19_644_177, tp=4, kv_cache_dtype="fp8_e4m3",
                    max_mamba_cache_size=2211)
    assert p.log_lines() == [
        "Mamba Cache is allocated. max_mamba_cache_size: 2211, conv_state size: 0.44GB, "
        "ssm_state size: 24.84GB",
        "KV Cache is allocated. dtype: torch.float8_e4m3fn, #tokens: 19644177, K size: 14.05 GB, "
        "V size: 14.05 GB"]
    # 0.5.21's split is not 001ccef0's: with 2,211 slots the 0.9 split leaves at most
    # (57,300,937,841 − 2,211 · 12,270,592) // 1,536 = 19,642,356 tokens, 1,821 (0.009 %) fewer
    # than that start printed; one byte more and the state takes 2,212 slots
    top = (2212 * s.per_req * 19) // 9
    assert top == 57_300_937_841
    assert split(top, s.per_req, 6 * 256) == (2211, 19_642_356)
    assert split(top + 1, s.per_req, 6 * 256)[0] == 2212


def test_split_and_flags():
    model = load_preset("qwen3.5-27b")
    # Qwen3.5-27B: 48 gated DeltaNet layers (10,240 conv channels, 48 × 128 × 128 float32 state)
    assert state(model).per_req == 48 * (10_240 * 3 * 2 + 48 * 128 * 128 * 4) == 153_944_064
    p = sglang_pool(model, kv_memory=40 * GiB, max_mamba_cache_size=100)
    # 100 slots first, then int(40 GiB − 100 · 153,944,064 B) // (16 layers · 4 heads · 512 · 2 B)
    assert p.mamba_size == 100 and p.tokens == (40 * GiB - 100 * 153_944_064) // 65_536
    # ratio 0.5: a third of the memory to state slots
    q = sglang_pool(model, kv_memory=40 * GiB, mamba_full_memory_ratio=0.5)
    assert q.mamba_size == int(40 / 3 * GiB // 153_944_064)
    # sized from tokens: 3 slots per request
    assert sglang_pool(model, tokens=32_768 * 4, requests=4).mamba_size == 12
    with pytest.raises(ValueError, match="^max-mamba-cache-size: sizes the Mamba pool"):
        sglang_pool(load_preset("llama-3.1-8b"), kv_memory=GiB, max_mamba_cache_size=8)
    with pytest.raises(ValueError, match="^kv-memory: not enough memory for one Mamba"):
        sglang_pool(model, kv_memory=100 * 2**20)


def test_cli_mamba_flags():
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", *a], capture_output=True,
                                    text=True, cwd=ROOT, timeout=120)
    out = run("--preset", "qwen3-next-80b-a3b", "--engine", "sglang", "--kv-memory",
              "54927310848", "--format", "json")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert (row["engine_tokens"], row["max_mamba_cache_size"]) == (1_178_614, 336)
    assert row["mamba_cache_per_req"] == 77_266_944
    for bad in (("--preset", "llama-3.1-8b", "--engine", "sglang", "--kv-memory", "1GiB",
                 "--max-mamba-cache-size", "4"),
                ("--preset", "qwen3.5-27b", "--engine", "vllm", "--kv-memory", "1GiB",
                 "--mamba-full-memory-ratio", "0.5")):
        err = run(*bad)
        assert err.returncode == 2 and len(err.stderr.strip().splitlines()) == 1
        assert "mamba" in err.stderr


# LiquidAI/LFM2-700M's config.json, the fields the cache reads: 16 layers, attention at 2, 5, 8,
# 10, 12, 14 (24 heads of 1536 / 24 = 64, 8 KV heads), ten short convs of conv_L_cache 3. The
# start below confirms the geometry by its own sizes.
LFM2_700M = {"model_type": "lfm2", "num_hidden_layers": 16, "hidden_size": 1536,
             "num_attention_heads": 24, "num_key_value_heads": 8, "conv_L_cache": 3,
             "full_attn_idxs": [2, 5, 8, 10, 12, 14], "max_position_embeddings": 128000,
             "torch_dtype": "bfloat16"}


def test_lfm2_short_conv_slot_by_hand():
    # Lfm2Config.mamba2_cache_params: a Mamba2StateShape of intermediate = hidden, state_size 0:
    # conv (1536, 3 − 1) bfloat16 per conv layer, an empty temporal state
    s = state(from_hf_config(LFM2_700M))
    assert (s.conv_bytes, s.ssm_bytes) == (10 * 1536 * 2 * 2, 0) == (61_440, 0)
    # TP 2 halves the conv channels
    assert state(from_hf_config(LFM2_700M), 2).conv_bytes == 10 * 768 * 2 * 2


def test_public_lfm2_700m_start_reproduced():
    """A public SGLang start of LFM2-700M (bench_one_batch, a 16 GB card, SGLang of late December
    2025, the LFM2 support notes of search index id 46415979912) printed max_mamba_cache_size
    85292, conv_state 4.88 GB, ssm_state 0.00 GB, then #tokens 473854, K and V 2.71 GB. With
    61,440 B a slot and 6 · 2 · 8 · 64 · 2 = 12,288 B a token, both counts come out of one
    memory figure: 85,292 · 61,440 + 473,854 · 12,288 = 11,063,058,432 B gives 85,292 slots
    (rest · 0.9 / 1.9 = 85,292.9 slots' worth) and leaves exactly 473,854 tokens; so does every
    figure up to 12,287 B more."""
    memory = 85_292 * 61_440 + 473_854 * 12_288
    assert memory == 11_063_058_432
    p = sglang_pool(from_hf_config(LFM2_700M), kv_memory=memory)
    assert (p.mamba_size, p.tokens, p.cell_size) == (85_292, 473_854, 12_288)
    assert p.log_lines() == [
        "Mamba Cache is allocated. max_mamba_cache_size: 85292, conv_state size: 4.88GB, "
        "ssm_state size: 0.00GB",
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 473854, K size: 2.71 GB, "
        "V size: 2.71 GB"]
    # one byte less and the token pool loses a token
    assert sglang_pool(from_hf_config(LFM2_700M), kv_memory=memory - 1).tokens == 473_853


def test_public_qwen35_397b_start_at_tp2_reproduced():
    """A public SGLang start of Qwen3.5-397B-A17B at TP 2 on RTX 4090s (ktransformers' SGLang
    backend with the experts on the CPU, kvcache-ai/ktransformers#1870, February 2026) printed
    max_mamba_cache_size 82, conv_state 0.13 GB, ssm_state 7.29 GB, then #tokens 580364, K and V
    4.15 GB. Per rank: 45 gated DeltaNet layers of conv (2 · 16 · 128 + 64 · 128) / 2 = 6,144
    channels × 3 × 2 B and (64 / 2 = 32 heads, 128, 128) float32 state (the config's
    mamba_ssm_dtype); 15 full layers of 2 / 2 = 1 KV head × 256 for K and V in bf16."""
    model = load_preset("qwen3.5-397b-a17b")
    s = state(model, 2)
    assert (s.conv_bytes, s.ssm_bytes) == (45 * 6144 * 3 * 2, 45 * 32 * 128 * 128 * 4)
    assert s.per_req == 96_030_720
    # both counts from one memory figure: 82 · 96,030,720 + 580,364 · 15,360 B, where the 0.9
    # split leaves 82.8 slots' worth for the state and exactly 580,364 tokens for the rest
    memory = 82 * 96_030_720 + 580_364 * 15_360
    assert memory == 16_788_910_080
    p = sglang_pool(model, kv_memory=memory, tp=2)
    assert (p.mamba_size, p.tokens, p.cell_size) == (82, 580_364, 15_360)
    assert p.log_lines() == [
        "Mamba Cache is allocated. max_mamba_cache_size: 82, conv_state size: 0.13GB, "
        "ssm_state size: 7.29GB",
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 580364, K size: 4.15 GB, "
        "V size: 4.15 GB"]
    assert sglang_pool(model, kv_memory=memory - 1, tp=2).tokens == 580_363


def test_predicted_memory_below_one_state_slot_names_the_gpu_not_kv_memory():
    # Qwen3.5-122B-A10B on 4 × H100 under SGLang: its derived fraction leaves 0.07 GiB per GPU
    # after the weights, less than one Mamba state slot. The memory was predicted, so the error
    # points at the GPU choice, not at a --kv-memory the user never gave
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "calculator", "--preset", "qwen3.5-122b-a10b",
                          "--engine", "sglang", "--gpu", "H100 80GB", "--gpus", "4", "--tp", "4",
                          "--context", "32768"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith(
        "error: --gpu: SGLang's predicted pool memory, 0.07 GiB per GPU, holds not one Mamba "
        "state slot")
    given = subprocess.run([sys.executable, "-m", "calculator", "--preset", "qwen3.5-122b-a10b",
                            "--engine", "sglang", "--kv-memory", "1MiB", "--tp", "4"],
                           capture_output=True, text=True)
    assert given.returncode == 2 and given.stderr.startswith("error: --kv-memory: not enough")
