"""Nemotron-NAS (DeciLMForCausalLM: Llama-3.3-Nemotron-Super-49B): per-block attention in every mode.

The config (model_presets/configs/llama-3.3-nemotron-super-49b.json) has 80 blocks; 31 have
``attention.no_op`` and hold no cache, 49 have ``n_heads_in_group`` 8: 64 / 8 = 8 KV heads × 128.
One layer-token is 8 · (128 + 128) · 2 B = 4,096 B. Read as a plain Llama it would be 80 layers ×
64 heads (``num_key_value_heads`` is null): 13× too much.
"""
import json
from pathlib import Path

import pytest

from calculator.engines import dynamic_cache_bytes, sglang_pool, static_cache_bytes, vllm_plan
from calculator.engines.llamacpp import plan as llamacpp_plan
from calculator.hf_config import from_hf_config
from calculator.model.shapes import param_count, param_shapes
from calculator.totals import kv_cache_bytes
from model_presets import load_preset

GiB = 1 << 30
CONFIG = json.loads((Path(__file__).resolve().parent.parent / "model_presets" / "configs"
                     / "llama-3.3-nemotron-super-49b.json").read_text())


def test_only_the_attention_blocks_hold_a_cache():
    m = from_hf_config(CONFIG)
    assert m.num_layers == 49 and m.blocks == 80
    assert m.describe() == "GQA"
    # 49 layers · 131,072 tokens · 4,096 B (the formula the GGUF converter's author gives in
    # turboderp-org/exllamav2 PR #726: context · 2·8·128·49·2 B)
    assert kv_cache_bytes(m, 131072).total_bytes == 49 * 131072 * 4096 == 26_306_674_688


def test_preset_reads_like_the_full_config():
    assert load_preset("llama-3.3-nemotron-super-49b").groups == from_hf_config(CONFIG).groups


def test_vllm_pools_the_49_attention_layers():
    # vLLM nemotron_nas.py builds DeciLMAttention only for blocks without no_op: one group of 49
    # layers, page 16 · 4,096 · 49 = 3,211,264 B; 40 GiB // page = 13,374 blocks · 16 tokens
    p = vllm_plan(from_hf_config(CONFIG), max_model_len=131072, kv_memory=40 * GiB)
    assert p.page_size * p.group_size == 16 * 4096 * 49 == 3_211_264
    assert p.num_blocks == 40 * GiB // 3_211_264 == 13_374
    assert p.num_tokens == 13_374 * 16 == 213_984


def test_sglang_pool_has_every_block_at_the_first_blocks_heads():
    # SGLang's pool is num_hidden_layers (80) deep with get_total_num_kv_heads (8): no-op blocks
    # hold K/V rows too. Cell 80 · 8 · 256 · 2 B = 327,680 B; 40 GiB / cell = 131,072 tokens.
    pool = sglang_pool(from_hf_config(CONFIG), kv_memory=40 * GiB)
    assert pool.cell_size == 80 * 8 * 256 * 2 == 327_680
    assert pool.tokens == 40 * GiB // 327_680 == 131_072
    # TP 2: 4 heads per rank, 163,840 B per token
    assert sglang_pool(from_hf_config(CONFIG), kv_memory=40 * GiB, tp=2).cell_size == 163_840


def test_llamacpp_counts_every_layer_but_sizes_only_the_attention_ones():
    # convert_hf_to_gguf.py writes 0 KV heads for no-op blocks; llama_kv_cache keeps every layer
    p = llamacpp_plan(from_hf_config(CONFIG), n_ctx=8192)
    cache = p.caches[0]
    assert cache.layers == 80
    assert cache.k_bytes == cache.v_bytes == 49 * 8192 * 1024 * 2 == 822_083_584


def test_transformers_has_no_class_for_it():
    for call in (lambda m: static_cache_bytes(m, 1024), lambda m: dynamic_cache_bytes(m, 10, 5)):
        with pytest.raises(ValueError, match="no transformers class"):
            call(from_hf_config(CONFIG))


def test_weights_are_the_published_count():
    # Hub: 49,867,145,216 BF16 parameters. Embeddings 2 · 128,256 · 8,192; 49 attention blocks of
    # 2 · 8192² + 2 · 1024 · 8192 + 8192; MLPs of 3 · 8192 · inter per block by ffn_mult.
    assert param_count(param_shapes(CONFIG)) == 49_867_145_216
    assert load_preset("llama-3.3-nemotron-super-49b").weight_bytes == 2 * 49_867_145_216


@pytest.mark.parametrize("change, field", [
    ({"window_length": 4096}, "window_length"),
    ({"n_heads_in_group": 7}, "n_heads_in_group 7 does not divide"),
    ({"n_heads_in_group": "x"}, "n_heads_in_group"),
])
def test_block_attention_that_is_not_modelled_is_refused(change, field):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["block_configs"][0]["attention"].update(change)
    with pytest.raises(ValueError, match=field):
        from_hf_config(cfg)


def test_every_block_no_op_or_a_short_list_is_refused():
    cfg = json.loads(json.dumps(CONFIG))
    for b in cfg["block_configs"]:
        b["attention"]["no_op"] = True
    with pytest.raises(ValueError, match="no layer has attention"):
        from_hf_config(cfg)
    with pytest.raises(ValueError, match="80 entries"):
        from_hf_config({**CONFIG, "num_hidden_layers": 81})
