"""DeepSeek-V4: a 128-token shared-KV window on every layer, compressed entries on most.

The preset is DeepSeek-V4-Flash-0731's config.json verbatim (1,888 bytes, SHA-256 checked
below): 43 layers, compress_ratios 0, 0, then 4 / 128 alternating, 4 last (21 CSA layers with
a 128-wide indexer key per entry, 20 HCA layers), head_dim 512, one KV head.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator import from_hf_config, kv_cache_bytes, sweep
from calculator.capacity import plan
from calculator.dtypes import get_dtype
from calculator.dsv4 import layer_types
from calculator.engines import (dynamic_cache_bytes, static_cache_bytes, transformers_cache_bytes,
                                vllm_plan)
from calculator.totals import long_context_bytes_per_token
from model_presets import load_preset, preset_checkpoints
from model_presets.param_counts import full_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "model_presets" / "configs" / "deepseek-v4-flash.json"
GiB = 1 << 30
CSA_STATE = (3 * 2 * 2 * (512 + 128) + 4 * 2 * (512 + 128)) * 2   # pending + overlap rows, bf16
HCA_STATE = 127 * 2 * 512 * 2                                      # pending kv + gate rows, bf16


def test_the_config_is_the_published_file():
    raw = CONFIG.read_bytes()
    assert len(raw) == 1888
    assert hashlib.sha256(raw).hexdigest() == \
        "6c8f3d2d3b48707541b88f32f22ef3f0f8a6b57d8523281e2b8d3cdb0ae9a023"


def test_layers_and_bytes_by_hand_at_one_million_tokens():
    model = load_preset("deepseek-v4-flash")
    counts = {(g.spec.compress_rate, g.spec.index_head_dim): g.count for g in model.groups}
    assert counts == {(0, 0): 2, (4, 128): 21, (128, 0): 20}
    assert model.describe().startswith("MQA + window 128 (43/43 layers) + 1/4 compressed "
                                       "(21/43 layers) + 1/128 compressed (20/43 layers)")
    b = kv_cache_bytes(model, 1_048_576)
    # window: 43 layers · 128 tokens · 512 · 2 B (K = V, one copy)
    # CSA: 21 · 262,144 entries · (512 + 128 indexer) · 2 B; HCA: 20 · 8,192 entries · 512 · 2 B
    assert b.kv_bytes == 43 * 128 * 1024 + 21 * 262_144 * 1280 + 20 * 8192 * 1024 == 7_219_838_976
    # the compressor's rows: CSA 3 pending tokens · (kv + gate) · 2 × (512 + 128) wide, plus the
    # overlap 4 · (kv + gate) · (512 + 128); HCA 127 pending · (kv + gate) · 512; all bf16
    assert (CSA_STATE, HCA_STATE) == (25_600, 260_096)
    assert b.state_bytes == 21 * CSA_STATE + 20 * HCA_STATE == 5_739_520
    csa = next(g for g in b.groups if g.label.startswith("CSA"))
    assert (csa.entries_per_seq, csa.index_bytes) == (262_144, 21 * 262_144 * 256)
    # fp8 halves the rows (the state stays in the model dtype)
    assert kv_cache_bytes(model, 1_048_576, dtype="fp8_e4m3").kv_bytes == 7_219_838_976 // 2
    # past the window: 21 · 1280 / 4 + 20 · 1024 / 128 = 6,720 + 160 bytes per token
    assert long_context_bytes_per_token(model) == 6_880


def test_entries_grow_in_steps_and_page_in_blocks():
    model = load_preset("deepseek-v4-flash")
    window = 43 * 1024  # 43 layers × 512 × 2 B per windowed token
    assert kv_cache_bytes(model, 3).kv_bytes == 3 * window
    assert kv_cache_bytes(model, 4).kv_bytes == 4 * window + 21 * 1280          # first CSA entry
    assert kv_cache_bytes(model, 128).kv_bytes == 128 * window + 21 * 32 * 1280 + 20 * 1024
    assert kv_cache_bytes(model, 131).kv_bytes == kv_cache_bytes(model, 128).kv_bytes
    # paged, block 16: the window 128 rows, 33 CSA entries → 48, 1 HCA entry → 16
    paged = kv_cache_bytes(model, 132, layout="paged", block_size=16)
    assert paged.kv_bytes == 128 * window + 21 * 48 * 1280 + 20 * 16 * 1024
    # the sweep takes each context through the same arithmetic
    ctxs = [1, 4, 127, 128, 4096, 1_048_576]
    table = sweep([model], ctxs, batches=[1, 3])
    assert table["total_bytes"].tolist() == [kv_cache_bytes(model, c, b).total_bytes
                                              for b in (1, 3) for c in ctxs]
    # vectorized with the other presets (entries = context // rate, paged in blocks of entries)
    paged = sweep([model, load_preset("llama-3.1-8b")], ctxs, layout="paged", block_size=16, tp=2,
                  pp=2, dtypes=["bf16", "q8_0"])
    assert paged["per_gpu_total_bytes"].tolist() == [
        kv_cache_bytes(m, c, 1, d, 2, 2, "paged", 16).per_gpu_total_bytes
        for m in (model, load_preset("llama-3.1-8b")) for d in ("bf16", "q8_0") for c in ctxs]


def test_capacity_bisects_the_staircase():
    model = load_preset("deepseek-v4-flash")
    # 166,878,536,440 B of weights over 8 H200s (139.81 GiB each at 0.9)
    p = plan(model, gpu_bytes=143_771 * (1 << 20), gpus=8)
    assert p.weights_per_gpu == -(-166_878_536_440 // 8)
    for batch in (1, 64):
        best = p.max_context(batch)
        assert p.fits(best, batch) and not p.fits(best + 1, batch)
    per_seq = kv_cache_bytes(model, 1_048_576).total_bytes
    assert p.max_batch(1_048_576) == p.free_per_gpu // per_seq


def test_weights_are_the_published_checkpoint_total():
    model = load_preset("deepseek-v4-flash")
    assert model.param_count == 284_334_567_511   # transformers 5.23.0 DeepseekV4ForCausalLM
    assert model.weight_bytes == 166_878_536_440 and model.weights_error == ""
    assert "safetensors total" in model.weights_from
    assert preset_checkpoints("deepseek-v4-flash") == ["fp8 + fp4 experts"]


@pytest.mark.parametrize("changes, types", [
    ({"compress_ratios": [0, 4, 128, 1, 4]}, ["s", "c", "h", "s"]),
    ({"layer_types": ["heavily_compressed_attention", "sliding_attention",
                      "compressed_sparse_attention", "sliding_attention"]}, ["h", "s", "c", "s"]),
    ({"compress_ratios": [0, 8, 64, 8], "compress_rates": {"compressed_sparse_attention": 8,
                                                          "heavily_compressed_attention": 64}},
     ["s", "c", "h", "c"]),
    ({"compress_rate_csa": 2, "compress_ratios": [2, 0, 128, 2]}, ["c", "s", "h", "c"]),
    ({}, ["h", "h", "h", "c"]),  # DeepseekV4Config's default: 2 HCA, then HCA / CSA alternating
])
def test_layer_types_as_transformers_derives_them(changes, types):
    short = {"s": "sliding_attention", "c": "compressed_sparse_attention",
             "h": "heavily_compressed_attention"}
    assert layer_types(changes, 4) == [short[t] for t in types]


V4_TINY = {"model_type": "deepseek_v4", "num_hidden_layers": 4, "hidden_size": 64,
           "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 512,
           "sliding_window": 128, "index_head_dim": 128}


@pytest.mark.parametrize("bad, field", [
    ({"compress_ratios": [0, 4, 3, 4]}, "compress_ratios"),
    ({"compress_ratios": [0, 4]}, "compress_ratios"),
    ({"layer_types": ["full_attention"] * 4}, "layer_types"),
    ({"compress_rates": {"compressed_sparse_attention": 0}}, "compress_rates"),
    ({"compress_rates": {"csa": 4}}, "compress_rates"),
    ({"sliding_window": None, "compress_ratios": [0] * 4}, "sliding_window"),
])
def test_bad_v4_fields_are_named(bad, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        from_hf_config({**V4_TINY, **bad})


@pytest.mark.parametrize("call", [
    lambda m: vllm_plan(m, max_model_len=4096, kv_memory=GiB),
])
def test_engines_refuse_in_one_line(call):
    with pytest.raises(ValueError, match=r"^engine [a-z.]+: DeepSeek-V4's compressed attention") as e:
        call(load_preset("deepseek-v4-flash"))
    assert "\n" not in str(e.value)


def test_cli_sizes_it_and_engines_refuse():
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", "--preset",
                                     "deepseek-v4-flash", *a], capture_output=True, text=True,
                                    cwd=ROOT, timeout=120)
    out = run("--context", "1048576", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["kv_bytes"] == 7_219_838_976
    bad = run("--context", "4096", "--engine", "vllm", "--gpu", "H200 141GB", "--gpus", "8")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "DeepSeek-V4's compressed attention" in bad.stderr


def test_transformers_mode_is_the_dynamic_cache_after_the_prompt_by_hand():
    """transformers_dsv4.py: V4 has no StaticCache; right after a 300-token prompt its own
    DynamicCache layers keep the prompt's rows as views (bf16, one sequence)."""
    model = load_preset("deepseek-v4-flash")
    b = transformers_cache_bytes(model, 300)
    assert b.layout == "transformers 5.23.0 DynamicCache after a 300-token prompt"
    groups = {g.label.split()[0]: g for g in b.groups}
    # 2 window-only layers: K and V apart (DynamicSlidingWindowLayer), 300 rows · 512 · 2 B each,
    # and the 8-byte _sliding_window_tensor
    sliding = groups["sliding"]
    assert sliding.kv_bytes + sliding.state_bytes == 2 * (2 * 300 * 512 * 2 + 8) == 1_228_816
    # 21 CSA layers: K = V rows 300 · 512 · 2 = 307,200; 75 entries · 512 · 2 = 76,800 and
    # 75 indexer keys · 128 · 2 = 19,200; buffer_kv / buffer_gate still hold the whole prompt's
    # projections, 2 · 300 · (1024 + 256) · 2 = 1,536,000; overlap 2 · 4 · (512 + 128) · 2 = 10,240
    csa = groups["CSA"]
    assert csa.kv_bytes == 21 * (307_200 + 76_800 + 19_200)
    assert csa.index_bytes == 21 * 19_200
    assert csa.state_bytes == 21 * (1_536_000 + 10_240 + 8)
    # 20 HCA layers: 307,200 + 2 entries · 512 · 2 = 2,048; buffers 2 · 300 · 512 · 2 = 614,400
    hca = groups["HCA"]
    assert hca.kv_bytes + hca.state_bytes == 20 * (307_200 + 2_048 + 614_400 + 8)
    assert b.total_bytes == 1_228_816 + 21 * 1_949_448 + 20 * 923_656 == 60_640_344
    # batch 2 doubles everything but the 43 counters
    assert transformers_cache_bytes(model, 300, 2).total_bytes == 2 * 60_640_344 - 43 * 8
    # one decode step later the window is back to 127 + 1 rows and each buffer to the one new row
    after = dynamic_cache_bytes(model, 300, 2)
    assert after.total_bytes == 10_121_304 < b.total_bytes


def test_transformers_mode_refusals_in_one_line():
    model = load_preset("deepseek-v4-flash")
    with pytest.raises(ValueError, match="no StaticCache"):
        static_cache_bytes(model, 4096)
    with pytest.raises(ValueError, match=r"^kv dtype: .*_keep_in_fp32_modules") as e:
        transformers_cache_bytes(model, 4096, dtype="fp16")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("prompt, new_tokens, batch", [
    (300, 1, 1),   # the transformers mode: right after the prompt (300 = 75 · 4: empty slices)
    (300, 2, 1),   # one token later: the prompt's storage is freed
    (301, 1, 2),   # 301 = 2 · 128 + 45: HCA's buffer a non-empty slice
    (130, 5, 2),   # decode steps: buffers are fresh concatenations, windows at 128 rows
    (3, 2, 1),     # under one CSA window: no entry, no overlap yet
])
def test_transformers_allocates_what_the_mode_predicts(prompt, new_tokens, batch):
    """generate with the real config's structural twin on CPU and sum the storages its
    DynamicCache keeps alive, layer group by layer group (measure/hf_library.py)."""
    pytest.importorskip("transformers")
    from measure.hf_library import measure_generate
    rows = measure_generate(full_config("deepseek-v4-flash"), name="v4", prompt=prompt,
                            new_tokens=new_tokens, batch=batch)
    assert [r.group.split()[0] for r in rows] == ["sliding", "CSA", "HCA", "total"]
    assert all(r.match for r in rows), [(r.group, r.expected_bytes, r.measured_bytes) for r in rows]
    hand = {(300, 1, 1): 60_640_344, (300, 2, 1): 10_121_304}  # the by-hand test above
    if (prompt, new_tokens, batch) in hand:
        assert rows[-1].measured_bytes == hand[prompt, new_tokens, batch]


def _twin(ratios: list[int]) -> dict:
    """The real config, shrunk where the cache does not look (widths, experts, vocabulary)."""
    cfg = {k: v for k, v in full_config("deepseek-v4-flash").items() if k != "quantization_config"}
    cfg.update(hidden_size=64, moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2,
               vocab_size=256, num_attention_heads=4, q_lora_rank=32, o_lora_rank=16, o_groups=2,
               index_n_heads=2, num_hidden_layers=len(ratios), compress_ratios=ratios,
               num_hash_layers=0, dspark_noise_token_id=None)
    return cfg


def test_transformers_holds_what_the_theoretical_mode_counts():
    """Prefill 255 tokens (255 = 63·4 + 3 = 128 + 127: every compressor buffer holds its most)
    into transformers' own DeepSeek-V4 cache and read its tensors layer by layer."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = _twin([0, 4, 128, 4])
    model = from_hf_config(cfg)
    hf = transformers.DeepseekV4Config(**{k: v for k, v in cfg.items() if k != "model_type"})
    torch.manual_seed(0)
    net = transformers.DeepseekV4ForCausalLM(hf).to(torch.bfloat16).eval()
    batch, tokens = 2, 255
    with torch.no_grad():
        cache = net(torch.randint(0, 256, (batch, tokens)), use_cache=True).past_key_values

    def nbytes(tensors) -> int:
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    for spec, layer in zip(model.layer_specs(), cache.layers):
        keys = layer.keys
        # DynamicSlidingWindowLayer keeps window − 1 rows between updates (the theoretical mode,
        # like vLLM's sliding pages, holds the window); K = V on the compressed layers
        assert keys.shape[-2] == spec.window - 1 and keys.shape[-1] == spec.head_dim
        if not spec.compress_rate:
            # a plain sliding layer stores V apart although V4 feeds it K again: a copy
            assert layer.values.data_ptr() != keys.data_ptr()
            continue
        assert layer.values.data_ptr() == keys.data_ptr()
        entries = nbytes(layer.compressed_kv.values())
        assert entries == batch * spec.entries(tokens) * spec.entry_bytes(get_dtype("bf16"))
        state = nbytes(layer.buffer_kv.values()) + nbytes(layer.buffer_gate.values())
        state += nbytes(getattr(layer, "overlap_kv", {}).values())
        state += nbytes(getattr(layer, "overlap_gate", {}).values())
        assert state == batch * spec.state_bytes()
    assert model.layer_specs()[1].state_bytes() == CSA_STATE


def test_custom_model_page_lists_entries_per_group():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("views/custom.py").run()
    at.text_area(key="j_text").set_value(CONFIG.read_text())
    at.button(key="j_go").click()
    at.run()
    assert not at.exception and not at.error
    assert "1/4 compressed (21/43 layers)" in at.success[0].value
    table = at.dataframe[0].value
    # at 1,048,576 tokens: 262,144 CSA entries of 21 · 1280 B, 8,192 HCA entries of 20 · 1024 B
    assert table["compressed entries @ max context"].tolist() == ["0", "262,144", "8,192"]
    assert table["bytes/entry, whole group (bf16)"].tolist() == ["0", "26,880", "20,480"]
    assert table["bytes/token, whole group (bf16)"].tolist() == ["2,048", "21,504", "20,480"]


def test_attention_variants_re_express_its_layers_as_plain_attention():
    from calculator import as_variant
    mqa = as_variant(load_preset("deepseek-v4-flash"), "mqa")
    # 41 compressed layers become full attention, the 2 window-only ones keep 128 tokens:
    # 8 seqs · (41 · 1,000 + 2 · 128) tokens · 1 head · (512 + 512) · 2 B (fp16)
    assert kv_cache_bytes(mqa, 1000, 8, "fp16").total_bytes == \
        8 * (41 * 1000 + 2 * 128) * 1024 * 2 == 675_938_304


def test_measurements_page_lists_the_committed_transformers_check():
    """The committed CPU run of `python -m measure --engine transformers --all-presets --batch 2`
    holds V4's DynamicCache row, and the page says why it differs from the theoretical figure."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("views/measurements.py").run()
    at.selectbox(key="m_lib_file").set_value("transformers-static-cpu-2026-12-02.csv").run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][-2:] == ["54 / 54", "130 / 130"]
    table = at.dataframe[-1].value.set_index("model")  # "Differences by design"
    v4 = table.loc["deepseek-v4-flash"]
    # 2 sequences of a 300-token prompt: 2 · 60,640,344 − 43 counters · 8 B counted once
    assert v4["transformers_bytes"] == 2 * 60_640_344 - 43 * 8 == 121_280_344
    assert v4["theoretical_bytes"] == kv_cache_bytes(load_preset("deepseek-v4-flash"), 300, 2).total_bytes
    assert v4["why"].startswith("DeepSeek-V4's DynamicCache")
