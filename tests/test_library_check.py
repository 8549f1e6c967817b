"""measure --engine transformers: caches that transformers itself allocates (StaticCache of a
structural twin, real tensors on CPU) against the calculator's transformers mode."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator import kv_cache_bytes
from calculator.engines import static_cache_bytes
from calculator.engines import dynamic_cache_bytes
from calculator.engines.transformers_cache import dynamic_tokens
from measure.hf_library import measure_generate, measure_library, twin_config
from model_presets import load_preset
from model_presets.param_counts import full_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, context", [
    ("llama-3.1-8b", 300),        # GQA
    ("gemma-3-27b", 1500),        # multimodal wrapper; sliding 1024 reached
    ("gpt-oss-20b", 300),         # sliding 128 reached, attention sinks
    ("deepseek-v2-lite", 300),    # MLA latent
    ("qwen3-next-80b-a3b", 300),  # hybrid: gated DeltaNet state + attention
])
def test_library_allocation_matches_the_transformers_mode(name, context):
    rows = measure_library(full_config(name), name=name, context=context, batch=2)
    assert rows and all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]
    assert rows[-1].group == "total" and rows[-1].measured_bytes > 0


# The presets of the 2025-26 families: chunked attention (Llama 4), per-layer KV heads and head
# sizes (Gemma 4, MiMo), gated DeltaNet hybrids (Qwen3.5), Mamba-2 hybrids (Nemotron), DSA
# indexers (DeepSeek-V3.2, GLM-5.1). Context 300 passes MiMo's 129 and stays inside the others'.
@pytest.mark.parametrize("name", ["llama-4-scout", "llama-4-maverick", "gemma-4-26b-a4b",
                                  "qwen3.5-27b", "qwen3.5-35b-a3b", "qwen3.5-122b-a10b",
                                  "qwen3.5-397b-a17b", "deepseek-v3.2", "glm-5.1",
                                  "nemotron-3-nano-30b-a3b", "nemotron-h-56b", "minimax-m2.5",
                                  "mimo-v2-flash", "lfm2-1.2b", "phi-4", "mistral-small-24b",
                                  "granite-4.0-h-tiny", "olmo-3-7b", "olmo-3-32b",
                                  "mistral-small-3.2-24b", "kimi-k2.5"])
def test_new_presets_allocate_what_transformers_allocates(name):
    rows = measure_library(full_config(name), name=name, context=300, batch=2)
    assert len(rows) >= 2 and all(r.match for r in rows), \
        [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]


def test_transformers_mode_by_hand():
    llama = load_preset("llama-3.1-8b")
    # 2 seqs · 300 tokens · 32 layers · 8 heads · (128 + 128) · 2 B, plus 32 int64 position counters
    assert static_cache_bytes(llama, 300, 2).total_bytes == 2 * 300 * 32 * 8 * 256 * 2 + 32 * 8
    qwen = load_preset("qwen3-next-80b-a3b")
    # 36 DeltaNet layers · 2 seqs · (conv 8192 × 4 · 2 B + recurrent 32 × 128 × 128 · 4 B)
    assert static_cache_bytes(qwen, 300, 2).state_bytes == 36 * 2 * (8192 * 4 * 2 + 32 * 128 * 128 * 4) + 12 * 8
    # vLLM's convention (the theoretical mode): conv kernel − 1 wide, bf16 recurrent state
    assert kv_cache_bytes(qwen, 300, 2).state_bytes == 36 * 2 * (8192 * 3 * 2 + 32 * 128 * 128 * 2)
    with pytest.raises(ValueError, match="compute dtype"):
        static_cache_bytes(llama, 300, 2, "q8_0")


def test_twin_keeps_the_cache_shaping_fields():
    twin = twin_config(full_config("llama-3.1-405b"))
    assert (twin.num_hidden_layers, twin.num_key_value_heads, twin.head_dim) == (126, 8, 128)
    assert twin.hidden_size == 64 and twin.intermediate_size == 32 and twin.vocab_size == 256


def test_cli_engine_transformers():
    out = subprocess.run([sys.executable, "-m", "measure", "--engine", "transformers", "--preset",
                          "gpt-oss-20b", "--context", "200"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1/1 model totals match to the byte" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "measure", "--engine", "transformers", "--preset",
                          "gpt2", "--kv-dtype", "q8_0"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["gpt-oss-20b", "deepseek-v2-lite", "qwen3-next-80b-a3b"])
def test_generate_leaves_the_cache_the_transformers_mode_predicts(name):
    """GQA + sliding window, MLA, hybrid: generate 4 tokens after 200 on CPU and measure."""
    rows = measure_generate(full_config(name), name=name, prompt=200, new_tokens=4, batch=2)
    assert all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]


def test_dynamic_cache_rules_by_hand():
    # generate feeds 200, then 1, 1, 1 (the 4th new token is never fed): full layers hold 203
    assert dynamic_tokens(None, [200, 1, 1, 1]) == 203
    # window 128 keeps 127 tokens as a view of the last concatenation of 127 + 1 = 128 tokens
    assert dynamic_tokens(128, [200, 1, 1, 1]) == 128
    assert dynamic_tokens(128, [50, 1]) == 51  # below the window: everything
    oss = load_preset("gpt-oss-20b")
    # 2 seqs · 8 heads · 128 (64+64) · 2 B per token: 12 sliding layers × 128 tokens (+ 8 B each)
    # and 12 full layers × 203 tokens
    per_token = 2 * 8 * 128 * 2
    assert dynamic_cache_bytes(oss, 200, 4, 2).total_bytes == 12 * 128 * per_token + 12 * 8 + 12 * 203 * per_token


def test_calculator_cli_engine_transformers():
    import json
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", *a], capture_output=True,
                                    text=True, cwd=ROOT, timeout=60)
    d = json.loads(run("--preset", "gpt2", "--engine", "transformers", "--context", "1k",
                       "--format", "json").stdout)
    # GPT-2 runs in fp32: 1024 tokens · 12 layers · 12 heads · (64 + 64) · 4 B + 12 counters · 8 B
    assert d["engine"] == "transformers" and d["kv_dtype"] == "fp32"
    assert d["total_bytes"] == 1024 * 12 * 12 * 128 * 4 + 12 * 8 == 75_497_568
    t = json.loads(run("--preset", "gpt2", "--context", "1k", "--format", "json").stdout)
    assert t["engine"] == "theoretical" and t["total_bytes"] == 1024 * 12 * 12 * 128 * 2
    for bad in (["--tp", "2"], ["--layout", "paged"], ["--format", "csv"], ["--kv-dtype", "q4_0"]):
        out = run("--preset", "gpt2", "--engine", "transformers", "--context", "1k", *bad)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, bad


def test_measurements_page_shows_library_results():
    import pandas as pd
    from streamlit.testing.v1 import AppTest
    files = sorted((ROOT / "measure" / "results").glob("transformers-*.csv"), reverse=True)
    assert files, "commit the results of python -m measure --engine transformers --out results"
    at = AppTest.from_file(str(ROOT / "views" / "measurements.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    table = pd.read_csv(files[0])
    totals = table[table["group"] == "total"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Model totals matching to the byte"] == f"{int(totals['match'].sum())} / {len(totals)}"
    design = next(d.value for d in at.dataframe if "why" in d.value.columns)
    assert len(design) == len(totals) and design["why"].str.len().min() > 0
    # by design: transformers mode minus theoretical is never negative for these caches
    assert (design["difference"] >= 0).all()


JAMBA = {"model_type": "jamba", "architectures": ["JambaForCausalLM"], "num_hidden_layers": 32,
         "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
         "attn_layer_period": 8, "attn_layer_offset": 4, "mamba_d_state": 16, "mamba_d_conv": 4,
         "mamba_expand": 2, "max_position_embeddings": 262144, "torch_dtype": "bfloat16",
         "intermediate_size": 14336, "num_experts": 16, "expert_layer_period": 2,
         "expert_layer_offset": 1, "vocab_size": 65536}
MINIMAX = {"model_type": "minimax", "architectures": ["MiniMaxForCausalLM"], "num_hidden_layers": 8,
           "hidden_size": 1024, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64,
           "attn_type_list": [0] * 7 + [1], "max_position_embeddings": 4096,
           "torch_dtype": "bfloat16", "intermediate_size": 256, "num_local_experts": 4,
           "vocab_size": 1000}


def test_jamba_mamba_state_static_and_generate():
    """Jamba's mamba layers: conv [B, d_inner, d_conv] bf16 + recurrent [B, d_inner, d_state] fp32."""
    static = {r.group: r for r in measure_library(JAMBA, name="jamba", context=300, batch=2)}
    # 28 mamba layers · 2 seqs · (8,192 · 4 · 2 B + 8,192 · 16 · 4 B) = 33,030,144
    mamba = next(r for g, r in static.items() if g.startswith("mamba"))
    assert mamba.measured_bytes == mamba.expected_bytes == 28 * 2 * (8192 * 4 * 2 + 8192 * 16 * 4)
    # 4 attention layers · 2 seqs · 300 tokens · 8 heads · 256 · 2 B, plus 4 int64 counters
    attn = next(r for g, r in static.items() if g.startswith("attention"))
    assert attn.measured_bytes == attn.expected_bytes == 4 * 2 * 300 * 8 * 256 * 2 + 4 * 8
    rows = measure_generate(JAMBA, name="jamba", prompt=12, new_tokens=2, batch=2)
    assert all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]


def test_minimax_lightning_state_generate_and_no_static_cache():
    rows = {r.group: r for r in measure_generate(MINIMAX, name="minimax", prompt=40, new_tokens=3,
                                                 batch=2)}
    # 7 lightning layers · 2 seqs · 8 heads · 64 · 64 · 2 B = 917,504 (MiniMaxCache.linear_cache)
    assert rows["lightning state 8×64×64 (bf16)"].measured_bytes == 7 * 2 * 8 * 64 * 64 * 2 == 917_504
    assert all(r.match for r in rows.values())
    # transformers refuses a StaticCache for MiniMax; the mode says so instead of a number
    from calculator.hf_config import from_hf_config
    with pytest.raises(ValueError, match="refuses a StaticCache"):
        static_cache_bytes(from_hf_config(MINIMAX), 300)


GEMMA4 = {"model_type": "gemma4", "architectures": ["Gemma4ForConditionalGeneration"],
          "dtype": "bfloat16",
          "text_config": {"model_type": "gemma4_text", "attention_k_eq_v": True,
                          "global_head_dim": 512, "head_dim": 256, "hidden_size": 2816,
                          "num_attention_heads": 16, "num_global_key_value_heads": 2,
                          "num_hidden_layers": 12, "num_key_value_heads": 8, "sliding_window": 64,
                          "hidden_size_per_layer_input": 0, "enable_moe_block": True,
                          "num_experts": 128, "top_k_experts": 8, "moe_intermediate_size": 704,
                          "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 2}}
GEMMA4_SHARED = {"model_type": "gemma4_text", "hidden_size": 1536, "num_hidden_layers": 35,
                 "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256,
                 "global_head_dim": 512, "hidden_size_per_layer_input": 256,
                 "num_kv_shared_layers": 20, "sliding_window": 512, "dtype": "bfloat16",
                 "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 7}
LFM2 = {"architectures": ["Lfm2ForCausalLM"], "model_type": "lfm2", "hidden_size": 512,
        "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
        "conv_L_cache": 3, "full_attn_idxs": [2, 5, 8, 10, 12, 14], "torch_dtype": "bfloat16"}
NEMOTRON_H = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h",
              "hidden_size": 2688, "num_attention_heads": 32, "num_key_value_heads": 2,
              "head_dim": 128, "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128,
              "n_groups": 8, "conv_kernel": 4, "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EM",
              "torch_dtype": "bfloat16", "n_routed_experts": 128, "num_experts_per_tok": 6}


QWEN3_5 = json.loads((ROOT / "tests" / "configs" / "qwen3.5-397b-a17b.json").read_text())
GLM5 = json.loads((ROOT / "model_presets" / "configs" / "glm-5.json").read_text())
DSV32 = json.loads((ROOT / "model_presets" / "configs" / "deepseek-v3.2-exp.json").read_text())
# GLM-5.2-style IndexCache: layers 0-2 and every 4th after run the indexer, the rest reuse it
GLM52_SHARED = {**GLM5, "num_hidden_layers": 8, "index_topk_freq": 4, "index_skip_topk_offset": 3}
# MiMo-V2-Flash's cache fields (12 of its 48 layers, its own pattern: full at 0 and every 6th);
# the shipped file writes sliding_window 128 and sliding_window_size 128
MIMO = {"architectures": ["MiMoV2FlashForCausalLM"], "model_type": "mimo_v2_flash",
        "num_hidden_layers": 12, "hidden_size": 4096, "num_attention_heads": 64,
        "num_key_value_heads": 4, "head_dim": 192, "v_head_dim": 128, "swa_num_attention_heads": 64,
        "swa_num_key_value_heads": 8, "swa_head_dim": 192, "swa_v_head_dim": 128,
        "sliding_window": 128, "sliding_window_size": 128, "max_position_embeddings": 262144,
        "torch_dtype": "bfloat16", "n_routed_experts": 256, "num_experts_per_tok": 8,
        "moe_intermediate_size": 2048,
        "hybrid_layer_pattern": [0 if i == 0 or (i + 1) % 6 == 0 else 1 for i in range(12)]}


@pytest.mark.parametrize("name, config", [("gemma4-moe", GEMMA4), ("gemma4-shared", GEMMA4_SHARED),
                                          ("lfm2", LFM2), ("nemotron-h", NEMOTRON_H),
                                          ("qwen3.5-397b-a17b", QWEN3_5), ("glm-5", GLM5),
                                          ("deepseek-v3.2-exp", DSV32),
                                          ("glm-5.2-shared", GLM52_SHARED), ("mimo-v2-flash", MIMO)])
def test_2025_26_families_static_and_generate(name, config):
    """Gemma 4's per-layer heads, LFM2's short conv, NemotronH's mamba2 + cacheless blocks, the
    Qwen3.5 config as shipped (multimodal wrapper, DeltaNet hybrid), DSA's indexer keys (GLM-5,
    DeepSeek-V3.2, GLM-5.2's shared indexer layers): what
    transformers 5.23.0 allocates, group by group, equals the transformers mode."""
    for rows in (measure_library(config, name=name, context=100, batch=2),
                 measure_generate(config, name=name, prompt=40, new_tokens=3, batch=2)):
        assert all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]
    static = {r.group: r.measured_bytes for r in measure_library(config, name=name, context=100,
                                                                 batch=2)}
    if name == "gemma4-moe":  # 2 global layers · 2 seqs · 100 · 2 heads · (512 + 512) · 2 B + 2 counters
        assert static["attention 2 KV heads × (512+512)"] == 2 * 2 * 100 * 2 * 1024 * 2 + 2 * 8
    if name == "lfm2":  # 10 conv layers · 2 seqs · 512 × 3 · 2 B (the full kernel width)
        assert static["short conv state: conv 512×3 (bf16)"] == 10 * 2 * 512 * 3 * 2
    if name == "glm-5":  # 78 layers · (2 seqs · 100 · (576 latent + 128 indexer keys) · 2 B + 2 counters)
        assert static["MLA latent 512+64 + indexer keys 128 (bf16)"] == 78 * (2 * 100 * 704 * 2 + 16)
    if name == "glm-5.2-shared":  # 4 indexer layers (0, 1, 2, 6) as above; 4 shared: latent + 1 counter
        assert static["MLA latent 512+64 + indexer keys 128 (bf16)"] == 4 * (2 * 100 * 704 * 2 + 16)
        assert static["MLA latent 512+64"] == 4 * (2 * 100 * 576 * 2 + 8)
    if name == "mimo-v2-flash":  # beyond the window: 9 sliding layers keep sliding_window_size + 1
        rows = {r.group: r for r in measure_library(config, name=name, context=300, batch=2)}
        sliding = rows["attention 8 KV heads × (192+128), window 129"]
        # 9 · 2 seqs · 129 tokens · 8 heads · (192 + 128) · 2 B + 9 counters
        assert sliding.match and sliding.measured_bytes == 9 * 2 * 129 * 8 * 320 * 2 + 9 * 8
    if name == "nemotron-h":  # 10 mamba2 layers · 2 · (conv 6,144 × 4 · 2 B + ssm 64·64·128 · 4 B)
        mamba = next(v for k, v in static.items() if k.startswith("mamba2"))
        assert mamba == 10 * 2 * (6144 * 4 * 2 + 64 * 64 * 128 * 4)


def test_generate_ignores_the_configs_use_mtp():
    """MiniMax-M2.5's config.json says use_mtp: transformers' generate would turn into assisted
    decoding with MTP layers the twin has no weights for; the measurement passes use_mtp=False
    and measures the main model's DynamicCache (62 full layers · 2 seqs · 21 tokens · 8 heads ·
    (128 + 128) · 2 B = 10,665,984 B; generate feeds 20, then 1)."""
    rows = measure_generate(full_config("minimax-m2.5"), name="minimax-m2.5", prompt=20,
                            new_tokens=2, batch=2)
    assert rows[-1].measured_bytes == rows[-1].expected_bytes == 62 * 2 * 21 * 8 * 256 * 2
    assert rows[-1].expected_bytes == 10_665_984
