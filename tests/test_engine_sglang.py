"""SGLang engine mode: the pools' rules by hand, and lines SGLang printed in public issues and docs.

Lines from builds before SGLang added ``dtype: …,`` to the line are compared with ``style="legacy"``.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator.engines.sglang import pool
from calculator.hf_config import from_hf_config
from model_presets import load_preset

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


def gqa(name: str, model_type: str, layers: int, hidden: int, heads: int, kv_heads: int,
        max_position: int, head_dim: int | None = None):
    """A model from the config.json fields that set its cache (bf16)."""
    cfg = {"model_type": model_type, "num_hidden_layers": layers, "hidden_size": hidden,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads,
           "max_position_embeddings": max_position, "torch_dtype": "bfloat16"}
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    return from_hf_config(cfg, name=name)


def test_log_vllm_issue_21348_qwen3_235b_tp4():
    # https://github.com/vllm-project/vllm/issues/21348: Qwen3-235B-A22B-FP8, --tp 4, SGLang:
    # "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"
    # 4 KV heads / 4 ranks = 1 per GPU; K: 94 layers · (367,404 + 1) · 1 · 128 · 2 B
    p = pool(load_preset("qwen3-235b-a22b"), tokens=367404, tp=4)
    assert p.k_bytes == 94 * 367_405 * 128 * 2 == 8_841_233_920
    assert p.log_line("legacy") == "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"


def test_tokens_from_memory_mha():
    # Llama-3.1-8B: cell = 8 heads · 128 · 32 layers · 2 · 2 B = 131,072 B; 4 GiB // 131,072 = 32,768
    p = pool(load_preset("llama-3.1-8b"), kv_memory=4 * GIB)
    assert p.cell_size == 131_072 and p.tokens == 32_768
    # buffers hold tokens + page_size rows: 32 · 32,769 · 8 · 128 · 2 B each for K and V
    assert p.k_bytes == p.v_bytes == 32 * 32_769 * 8 * 128 * 2


def test_mla_pool_is_one_latent_replicated_over_tp():
    # DeepSeek-V3: cell = (512 + 64) · 61 layers · 2 B = 70,272 B on every rank, whatever the TP
    for tp in (1, 8):
        p = pool(load_preset("deepseek-v3"), kv_memory=40 * GIB, tp=tp, page_size=64)
        # 40 GiB // 70,272 = 611,191 tokens, rounded down to the 64-token page: 611,136
        assert p.cell_size == 576 * 61 * 2 == 70_272 and p.tokens == 611_191 // 64 * 64 == 611_136
        assert p.v_bytes == 0 and p.k_bytes == 61 * (611_136 + 64) * 576 * 2
    assert p.log_line() == (f"KV Cache is allocated. dtype: torch.bfloat16, #tokens: 611136, "
                            f"KV size: {p.k_bytes / GIB:.2f} GB")


@pytest.mark.parametrize("kw, field", [({"kv_cache_dtype": "int4"}, "kv-cache-dtype"),
                                       ({"tp": 3}, "tp"), ({"kv_memory": 100}, "kv-memory"),
                                       ({"page_size": 0}, "page-size"),
                                       ({"swa_full_tokens_ratio": 0.0}, "swa-full-tokens-ratio")])
def test_rejects(kw, field):
    kw.setdefault("kv_memory", GIB)
    with pytest.raises(ValueError, match=f"^{field}: "):
        pool(load_preset("llama-3.1-8b"), **kw)


def test_state_models_outside_the_mamba_pool_not_modelled():
    # Mamba-2, gated DeltaNet and short conv get SGLang's Mamba pool (test_sglang_mamba.py);
    # Kimi Linear's KDA does not
    kimi = json.loads((ROOT / "tests" / "configs" / "kimi-linear-tiny.json").read_text())
    with pytest.raises(ValueError, match="^engine sglang: KDA state is not modelled"):
        pool(from_hf_config(kimi), kv_memory=GIB)


def test_gemma2_gets_the_plain_pool_over_all_layers():
    # Gemma 2 is not a hybrid-SWA architecture in SGLang: its 21 windowed layers are pooled like
    # the 21 global ones. cell = 42 layers · 8 heads · (256 + 256) · 2 B = 344,064 B/token;
    # 4 GiB // 344,064 = 12,483 tokens.
    p = pool(load_preset("gemma-2-9b"), kv_memory=4 * GIB)
    assert p.cell_size == 42 * 8 * 512 * 2 == 344_064 and p.tokens == 4 * GIB // 344_064 == 12_483
    assert p.swa_tokens is None and len(p.buffers) == 1


def test_cli_log_line():
    r = subprocess.run([sys.executable, "-m", "calculator", "--preset", "llama-3.1-8b", "--engine",
                        "sglang", "--kv-memory", "4GiB", "--format", "log"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    # K = V = 32 · 32,769 · 1,024 · 2 B = 2,147,549,184 B = 2.00006 GiB
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("KV Cache is allocated. dtype: torch.bfloat16, #tokens: 32768, "
                                "K size: 2.00 GB, V size: 2.00 GB")


def test_log_xinference_issue_3481_qwen3_14b_one_gpu():
    # https://github.com/xorbitsai/inference/issues/3481: SGLang, Qwen3-14B, one GPU:
    # "KV Cache is allocated. #tokens: 91749, K size: 7.00 GB, V size: 7.00 GB"
    # Qwen3-14B's config.json: 40 layers, 8 KV heads × 128 (hidden 5120, 40 query heads)
    p = pool(gqa("Qwen3-14B", "qwen3", 40, 5120, 40, 8, 40960, head_dim=128), tokens=91749)
    # K: 40 layers · (91,749 + 1) · 8 · 128 · 2 B = 7,516,160,000 B = 6.99999 GiB → "7.00"
    assert p.k_bytes == 40 * 91_750 * 8 * 128 * 2 == 7_516_160_000
    assert p.log_line("legacy") == "KV Cache is allocated. #tokens: 91749, K size: 7.00 GB, V size: 7.00 GB"


def test_log_sglang_pr_11716_tp8_80_layer_gqa():
    # https://github.com/sgl-project/sglang/pull/11716 (TP 8 server log):
    # "KV Cache is allocated. #tokens: 2795207, K size: 53.31 GB, V size: 53.31 GB"
    # The excerpt does not name the model; the bytes pin an 80-layer model with 8 KV heads × 128
    # (1 head per rank at TP 8), which Llama-3.1-70B is (Qwen2.5-72B gives the same pool).
    p = pool(load_preset("llama-3.1-70b"), tokens=2795207, tp=8)
    # K: 80 layers · (2,795,207 + 1) · 1 · 128 · 2 B = 57,245,859,840 B = 53.3137 GiB
    assert p.k_bytes == 80 * 2_795_208 * 128 * 2 == 57_245_859_840
    assert p.log_line("legacy") == "KV Cache is allocated. #tokens: 2795207, K size: 53.31 GB, V size: 53.31 GB"


def test_log_llms_in_clouds_qwq_32b_tp4():
    # https://github.com/didier-durand/llms-in-clouds/blob/b001c8690e894d234cf3a2e2345d259173acf293/docs/sglang.md
    # (SGLang 0.4.3.post4, Qwen/QwQ-32B, --tensor-parallel-size 4 on 4 × L4):
    # "KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB"
    # QwQ-32B's config.json: 64 layers, 40 query heads, 8 KV heads × 128 → 2 per rank (the
    # context, which the pool does not depend on, as the same log's context_len=131072)
    p = pool(gqa("QwQ-32B", "qwen2", 64, 5120, 40, 8, 131072), tokens=46611, tp=4)
    # K: 64 layers · (46,611 + 1) · 2 · 128 · 2 B = 1,527,382,016 B = 1.42249 GiB
    assert p.k_bytes == 64 * 46_612 * 2 * 128 * 2 == 1_527_382_016
    assert p.log_line("legacy") == "KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB"


def test_log_sglang_pr_4760_llama_31_8b():
    # https://github.com/sgl-project/sglang/pull/4760 (Meta-Llama-3.1-8B-Instruct, one GPU):
    # "KV Cache is allocated. #tokens: 442750, K size: 27.02 GB, V size: 27.02 GB"
    p = pool(load_preset("llama-3.1-8b"), tokens=442750)
    # K: 32 layers · (442,750 + 1) · 8 · 128 · 2 B = 29,016,129,536 B = 27.0234 GiB
    assert p.k_bytes == 32 * 442_751 * 8 * 128 * 2 == 29_016_129_536
    assert p.log_line("legacy") == "KV Cache is allocated. #tokens: 442750, K size: 27.02 GB, V size: 27.02 GB"


def test_log_sglang_pr_18263_qwen3_30b_a3b_with_dtype():
    # https://github.com/sgl-project/sglang/pull/18263 (Qwen3MoeForCausalLM, 56.98 GB of bf16
    # weights, one MI355X; a 2026 build that prints the dtype):
    # "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 1669816, K size: 76.44 GB, V size: 76.44 GB"
    # Qwen3-30B-A3B's config.json: 48 layers, 32 query heads, 4 KV heads × 128
    p = pool(gqa("Qwen3-30B-A3B", "qwen3_moe", 48, 2048, 32, 4, 40960, head_dim=128),
             tokens=1669816)
    # K: 48 layers · (1,669,816 + 1) · 4 · 128 · 2 B = 82,074,845,184 B = 76.438 GiB
    assert p.k_bytes == 48 * 1_669_817 * 4 * 128 * 2 == 82_074_845_184
    assert p.log_line() == ("KV Cache is allocated. dtype: torch.bfloat16, #tokens: 1669816, "
                            "K size: 76.44 GB, V size: 76.44 GB")


MIMO_V2_FLASH = {
    # MiMo-V2-Flash's config.json fields that set the cache: 48 layers, 9 global ones
    # (hybrid_layer_pattern 0) with 4 KV heads and 39 sliding ones (1) with 8; K 192, V 128 wide.
    "model_type": "mimo_v2_flash", "num_hidden_layers": 48, "hidden_size": 4096,
    "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 192, "v_head_dim": 128,
    "swa_num_attention_heads": 64, "swa_num_key_value_heads": 8, "swa_head_dim": 192,
    "swa_v_head_dim": 128, "sliding_window": 128, "max_position_embeddings": 262144,
    "torch_dtype": "bfloat16",
    "hybrid_layer_pattern": [0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0,
                             1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0],
}


def test_log_sglang_pr_18039_mimo_v2_flash_swa_pool():
    # https://github.com/sgl-project/sglang/pull/18039, "main branch" log of MiMo-V2-Flash at
    # --tp-size 4 --page-size 64:
    # "Use sliding window memory pool. full_layer_tokens=375360, swa_layer_tokens=300288"
    # "KV Cache is allocated. #tokens: 300288, K size: 8.38 GB, V size: 5.59 GB"
    # The full-layer count came from that build's profile (the bug the PR fixes); from it the
    # SWA pool is int(375,360 × 0.8) = 300,288 tokens (a multiple of 64), built first.
    model = from_hf_config(MIMO_V2_FLASH, name="MiMo-V2-Flash")
    p = pool(model, tokens=375360, tp=4, page_size=64)
    assert p.swa_tokens == 300_288
    swa, full = p.buffers
    # SWA: 39 layers · (300,288 + 64) rows · 2 heads per rank · 192 (K) or 128 (V) · 2 B
    assert swa.k_bytes == 39 * 300_352 * 2 * 192 * 2 == 8_996_143_104  # 8.378 GiB
    assert swa.v_bytes == 39 * 300_352 * 2 * 128 * 2 == 5_997_428_736  # 5.586 GiB
    # full: 9 layers · (375,360 + 64) · 1 head per rank (4 / 4) · (192 | 128) · 2 B
    assert full.k_bytes == 9 * 375_424 * 192 * 2 and full.v_bytes == 9 * 375_424 * 128 * 2
    lines = p.log_lines("legacy")
    assert lines[0] == "Use sliding window memory pool. full_layer_tokens=375360, swa_layer_tokens=300288"
    assert lines[1] == "KV Cache is allocated. #tokens: 300288, K size: 8.38 GB, V size: 5.59 GB"


def test_swa_split_from_memory_gpt_oss_120b():
    # gpt-oss-120b: 18 global + 18 sliding layers, 8 KV heads × 64, bf16, one GPU, 40 GiB.
    # profile: cell = (8·128·18 + 8·128·18) · 2 B = 73,728 B; 42,949,672,960 // 73,728 = 582,542
    # split: full = int(582,542 · 73,728 / (2,048·18 + 0.8·2,048·18)) = int(647,268.89) = 647,268
    #        swa = int(647,268 × 0.8) = 517,814
    p = pool(load_preset("gpt-oss-120b"), kv_memory=40 * GIB)
    assert p.cell_size == 73_728 and (p.tokens, p.swa_tokens) == (647_268, 517_814)
    # K = V = 18 · (517,814 + 1) · 512 · 2 + 18 · (647,268 + 1) · 512 · 2 B
    assert p.k_bytes == p.v_bytes == 18 * 517_815 * 1024 + 18 * 647_269 * 1024
    assert p.total_bytes <= 40 * GIB
    assert p.log_lines() == [
        "Use sliding window memory pool. full_layer_tokens=647268, swa_layer_tokens=517814",
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 517814, K size: 8.89 GB, V size: 8.89 GB",
        "KV Cache is allocated. dtype: torch.bfloat16, #tokens: 647268, K size: 11.11 GB, V size: 11.11 GB",
        "SWAKVPool mem usage: 40.00 GB, swa size: 517814, full size: 647268"]


def test_page_size_rounds_the_pool_down():
    # init_memory: max_total_num_tokens // page_size * page_size. Llama-3.1-8B, 4 GiB + 100 KiB:
    # 4,295,069,696 // 131,072 = 32,768 tokens (0 left over) → with page 64 still 32,768;
    # 4 GiB − 1 B: 32,767 tokens → page 64 → 32,704
    assert pool(load_preset("llama-3.1-8b"), kv_memory=4 * GIB - 1, page_size=64).tokens == 32_704
    assert pool(load_preset("llama-3.1-8b"), kv_memory=4 * GIB - 1).tokens == 32_767


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "calculator", "--engine", "sglang", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_swa_pool_lines_and_json():
    r = _cli("--preset", "gpt-oss-120b", "--kv-memory", "40GiB", "--format", "log")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == pool(load_preset("gpt-oss-120b"), kv_memory=40 * GIB).log_lines()
    r = _cli("--preset", "gpt-oss-120b", "--kv-memory", "40GiB", "--format", "json",
             "--context", "131072", "--swa-full-tokens-ratio", "0.5")
    row = json.loads(r.stdout)
    # ratio 0.5: full = int(582,542 · 73,728 / (2,048·18 + 0.5·2,048·18)) = int(776,722.67)
    assert (row["engine_tokens"], row["swa_tokens"]) == (776_722, 388_361)
    assert row["max_concurrency"] == 776_722 / 131_072


@pytest.mark.parametrize("flag, value", [("--swa-full-tokens-ratio", "2"), ("--log-style", "old")])
def test_cli_rejects_bad_sglang_knobs(flag, value):
    r = _cli("--preset", "gpt-oss-120b", "--kv-memory", "40GiB", flag, value)
    assert r.returncode == 2 and flag in r.stderr and "Traceback" not in r.stderr
