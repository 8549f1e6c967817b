"""Granite 4 hybrid (GraniteMoeHybridForCausalLM): Mamba-2 layers named "mamba" in layer_types.

transformers 5.23.0 maps the legacy names ("mamba" → linear_attention, "attention" →
full_attention, configuration_utils.py ``_LEGACY_LAYER_TYPE_REMAP``); the Mamba-2 geometry has its
own keys (mamba_n_heads, mamba_d_head, mamba_n_groups, mamba_d_state, mamba_d_conv, mamba_expand).
Config: tests/configs/granite-4-hybrid-tiny.json (8 layers, 6 mamba + 2 attention, hidden 512).
"""
import json
from pathlib import Path

from calculator.engines import static_cache_bytes, vllm_plan
from calculator.hf_config import from_hf_config
from calculator.specs import StateSpec
from calculator.totals import kv_cache_bytes
from measure.hf_library import measure_generate, measure_library

CONFIG = json.loads((Path(__file__).resolve().parent / "configs" / "granite-4-hybrid-tiny.json").read_text())


def test_layer_types_with_legacy_names():
    m = from_hf_config(CONFIG)
    states = [g for g in m.groups if isinstance(g.spec, StateSpec)]
    assert sum(g.count for g in states) == 6 and m.num_layers == 8
    s = states[0].spec
    # conv: mamba_expand · hidden + 2 · groups · d_state = 1024 + 256 = 1280 channels × (4 − 1);
    # ssm: 8 heads × 128 head dim × 128 state; both bf16 (vLLM's "auto" for Granite)
    assert s.mechanism == "mamba2" and s.shapes == ((1280, 3), (8, 128, 128))
    assert s.ssm_dtype in (None, "bf16")


def test_theoretical_bytes_by_hand():
    b = kv_cache_bytes(from_hf_config(CONFIG), 1000)
    # 2 attention layers · 1000 tokens · 8 heads · (64 + 64) · 2 B
    assert b.kv_bytes == 2 * 1000 * 8 * 128 * 2 == 4_096_000
    # 6 layers · (1280 · 3 + 8 · 128 · 128) · 2 B
    assert b.state_bytes == 6 * (1280 * 3 + 8 * 128 * 128) * 2 == 1_618_944


def test_transformers_allocates_what_the_transformers_mode_says():
    rows = measure_library(CONFIG, name="granite-tiny", context=300, batch=2)
    assert len(rows) == 3 and all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]
    # 6 layers · 2 seqs · (conv 1280 × 4 · 2 B + recurrent 8 · 128 · 128 · 4 B fp32)
    assert rows[0].measured_bytes == 6 * 2 * (1280 * 4 * 2 + 8 * 128 * 128 * 4) == 6_414_336
    assert static_cache_bytes(from_hf_config(CONFIG), 300, 2).total_bytes == rows[-1].measured_bytes
    assert all(r.match for r in measure_generate(CONFIG, name="granite-tiny", prompt=200,
                                                 new_tokens=4, batch=2))


def test_vllm_pages_the_mamba2_state():
    # one request's state per layer: (1280 · 3 + 8 · 128 · 128) · 2 B = 269,824 B; the attention
    # block becomes 16 · cdiv(269,824, 16 · 2,048) = 144 tokens
    p = vllm_plan(from_hf_config(CONFIG), max_model_len=4096, kv_memory=10 << 30)
    assert p.block_size == 144
    assert any("block size to 144" in line for line in p.hybrid_lines)
