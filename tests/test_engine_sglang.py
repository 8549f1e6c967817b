"""SGLang engine mode: the token pool's rule by hand, and a line SGLang printed in a public issue."""
import subprocess
import sys
from pathlib import Path

import pytest

from calculator.engines.sglang import pool
from model_presets import load_preset

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


def test_log_vllm_issue_21348_qwen3_235b_tp4():
    # https://github.com/vllm-project/vllm/issues/21348: Qwen3-235B-A22B-FP8, --tp 4, SGLang:
    # "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"
    # 4 KV heads / 4 ranks = 1 per GPU; K: 94 layers · (367,404 + 1) · 1 · 128 · 2 B
    p = pool(load_preset("qwen3-235b-a22b"), tokens=367404, tp=4)
    assert p.k_bytes == 94 * 367_405 * 128 * 2 == 8_841_233_920
    assert p.log_line() == "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB"


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
        assert p.cell_size == 576 * 61 * 2 == 70_272 and p.tokens == 40 * GIB // 70_272 == 611_191
        assert p.v_bytes == 0 and p.k_bytes == 61 * (611_191 + 64) * 576 * 2
    assert p.log_line() == f"KV Cache is allocated. #tokens: 611191, KV size: {p.k_bytes / GIB:.2f} GB"


@pytest.mark.parametrize("kw, field", [({"kv_cache_dtype": "int4"}, "kv-cache-dtype"),
                                       ({"tp": 3}, "tp"), ({"kv_memory": 100}, "kv-memory"),
                                       ({"page_size": 0}, "page-size")])
def test_rejects(kw, field):
    kw.setdefault("kv_memory", GIB)
    with pytest.raises(ValueError, match=f"^{field}: "):
        pool(load_preset("llama-3.1-8b"), **kw)


def test_windowed_models_not_modelled():
    with pytest.raises(ValueError, match="SWA and hybrid pools are not"):
        pool(load_preset("gemma-2-9b"), kv_memory=GIB)


def test_cli_log_line():
    r = subprocess.run([sys.executable, "-m", "calculator", "--preset", "llama-3.1-8b", "--engine",
                        "sglang", "--kv-memory", "4GiB", "--format", "log"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    # K = V = 32 · 32,769 · 1,024 · 2 B = 2,147,549,184 B = 2.00006 GiB
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "KV Cache is allocated. #tokens: 32768, K size: 2.00 GB, V size: 2.00 GB"


def test_log_xinference_issue_3481_qwen3_14b_one_gpu():
    # https://github.com/xorbitsai/inference/issues/3481: SGLang, Qwen3-14B, one GPU:
    # "KV Cache is allocated. #tokens: 91749, K size: 7.00 GB, V size: 7.00 GB"
    # Qwen3-14B's config.json: 40 layers, 8 KV heads × 128 (hidden 5120, 40 query heads)
    cfg = {"model_type": "qwen3", "num_hidden_layers": 40, "hidden_size": 5120,
           "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
           "max_position_embeddings": 40960, "torch_dtype": "bfloat16"}
    from calculator.hf_config import from_hf_config
    p = pool(from_hf_config(cfg, name="Qwen3-14B"), tokens=91749)
    # K: 40 layers · (91,749 + 1) · 8 · 128 · 2 B = 7,516,160,000 B = 6.99999 GiB → "7.00"
    assert p.k_bytes == 40 * 91_750 * 8 * 128 * 2 == 7_516_160_000
    assert p.log_line() == "KV Cache is allocated. #tokens: 91749, K size: 7.00 GB, V size: 7.00 GB"


def test_log_sglang_pr_11716_tp8_80_layer_gqa():
    # https://github.com/sgl-project/sglang/pull/11716 (TP 8 server log):
    # "KV Cache is allocated. #tokens: 2795207, K size: 53.31 GB, V size: 53.31 GB"
    # The excerpt does not name the model; the bytes pin an 80-layer model with 8 KV heads × 128
    # (1 head per rank at TP 8), which Llama-3.1-70B is (Qwen2.5-72B gives the same pool).
    p = pool(load_preset("llama-3.1-70b"), tokens=2795207, tp=8)
    # K: 80 layers · (2,795,207 + 1) · 1 · 128 · 2 B = 57,245,859,840 B = 53.3137 GiB
    assert p.k_bytes == 80 * 2_795_208 * 128 * 2 == 57_245_859_840
    assert p.log_line() == "KV Cache is allocated. #tokens: 2795207, K size: 53.31 GB, V size: 53.31 GB"
