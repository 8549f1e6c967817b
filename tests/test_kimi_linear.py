"""Kimi Linear / Kimi-K3: MLA layers plus Kimi Delta Attention (KDA) state layers.

transformers 5.23.0 ``KimiLinearConfig.__post_init__`` reads the 1-indexed
``linear_attn_config.full_attn_layers`` / ``kda_layers``; a KDA layer keeps one short-conv state
over q, k and v (3 · heads · head_dim channels) and a (heads, head_dim, head_dim) recurrent state
in float32 (``KimiDeltaAttention.forward``; vLLM ``kda_state_shape`` / ``kda_state_dtype``: the
convs in the model dtype, kernel − 1 wide, the recurrent state float32).
"""
import json
from pathlib import Path

import pytest

from calculator.engines import static_cache_bytes, vllm_plan
from calculator.hf_config import from_hf_config
from calculator.specs import MLASpec, StateSpec
from calculator.totals import kv_cache_bytes
from measure.hf_library import measure_generate, measure_library

CONFIGS = Path(__file__).resolve().parent / "configs"
K3 = json.loads((CONFIGS / "kimi-k3.json").read_text())
TINY = json.loads((CONFIGS / "kimi-linear-tiny.json").read_text())


def test_kimi_k3_layers_and_bytes_by_hand():
    m = from_hf_config(K3)
    kinds = {type(g.spec): g.count for g in m.groups}
    assert kinds == {StateSpec: 69, MLASpec: 24}
    b = kv_cache_bytes(m, 131072)
    # 24 MLA layers · 131,072 tokens · (512 + 64) · 2 B
    assert b.kv_bytes == 24 * 131072 * 576 * 2 == 3_623_878_656
    # 69 KDA layers · (3 · 96 · 128 channels · 3 conv taps · 2 B + 96 · 128 · 128 · 4 B)
    assert b.state_bytes == 69 * (36864 * 3 * 2 + 96 * 128 * 128 * 4) == 449_372_160


def test_transformers_mode_keeps_the_full_conv_width():
    # 69 · (36,864 · 4 · 2 B + 96 · 128 · 128 · 4 B) + 24 MLA layers' position counters
    b = static_cache_bytes(from_hf_config(K3), 131072)
    assert b.state_bytes == 69 * (36864 * 4 * 2 + 96 * 128 * 128 * 4) + 24 * 8 == 454_459_584


def test_transformers_allocates_what_the_mode_says():
    rows = measure_library(TINY, name="kimi-tiny", context=300, batch=2)
    assert len(rows) == 3 and all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]
    # 2 KDA layers · 2 seqs · (384 · 4 · 2 B + 4 · 32 · 32 · 4 B)
    assert rows[0].measured_bytes == 2 * 2 * (384 * 4 * 2 + 4 * 32 * 32 * 4) == 77_824
    assert all(r.match for r in measure_generate(TINY, name="kimi-tiny", prompt=200,
                                                 new_tokens=4, batch=2))


def test_vllm_says_it_does_not_size_the_kda_state():
    with pytest.raises(ValueError, match="KDA state is not modelled"):
        vllm_plan(from_hf_config(K3), max_model_len=8192, kv_memory=40 << 30)


@pytest.mark.parametrize("change, field", [
    ({"full_attn_layers": [0], "kda_layers": []}, "full_attn_layers must list layers 1 to 4"),
    ({"full_attn_layers": [2], "kda_layers": [1, 3]}, "layer 4 is in neither"),
])
def test_bad_layer_lists_are_named(change, field):
    cfg = {**TINY, "linear_attn_config": {**TINY["linear_attn_config"], **change}}
    with pytest.raises(ValueError, match=field):
        from_hf_config(cfg)
