"""llama.cpp's DeepSeek-V4 caches (llama_kv_cache_dsv4 at ggml-org/llama.cpp 035aa95b) against a
public run's log, and by hand where the log is not at hand.

ggml-org/llama.cpp#27680 ran DeepSeek-V4-Flash-0731 with ``-c 64000``, a bf16 cache and one
sequence; its SWA cache of 4352 cells is ``GGML_PAD(128 + n_ubatch, 256)`` for an n_ubatch of
3,969 to 4,224, so ``-b 4096 -ub 4096`` here.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator import from_hf_config
from calculator.engines.llamacpp import max_context, max_sequences, plan
from model_presets import load_preset
from model_presets.param_counts import full_config

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def _v4(**knobs):
    return plan(load_preset("deepseek-v4-flash"), **{"cache_type_k": "bf16", "cache_type_v": "bf16",
                                                     **knobs})


def test_the_public_run_line_by_line():
    p = _v4(n_ctx=64000, n_batch=4096, n_ubatch=4096)
    lines = p.log_lines()
    # lines as ggml-org/llama.cpp#27680 printed them (timestamps and the per-device buffer lines left out)
    for logged in [
        "llama_kv_cache_dsv4: creating DSV4 raw KV cache",
        "llama_kv_cache_iswa: creating non-SWA KV cache, size = 64000 cells",
        "llama_kv_cache: size =    0.00 MiB ( 64000 cells,   0 layers,  1/1 seqs), "
        "K (bf16):    0.00 MiB, V (bf16):    0.00 MiB",
        "llama_kv_cache_iswa: creating     SWA KV cache, size = 4352 cells",
        "llama_kv_cache_dsv4: creating DSV4 CSA compressor state",
        "llama_dsv4_comp_state: csa ratio = 4, state = 8 x 1024, streams = 1, rs_seq = 0, "
        "layers = 21, size =    1.31 MiB",
        "llama_dsv4_comp_state: hca ratio = 128, state = 128 x 512, streams = 1, rs_seq = 0, "
        "layers = 20, size =   10.00 MiB",
        "llama_dsv4_comp_state: lid ratio = 4, state = 8 x 256, streams = 1, rs_seq = 0, "
        "layers = 21, size =    0.33 MiB",
    ]:
        assert logged in lines
    # the log's "size =  182.75 MiB (  4352 cells,  43" line, cut there in the issue
    assert any(line.startswith("llama_kv_cache: size =  182.75 MiB (  4352 cells,  43 layers")
               for line in lines)
    by = {c.kind: c for c in p.caches}
    # SWA: 4352 cells · 43 layers · 512 · 2 B (K only) = 182.75 MiB
    assert by["dsv4_swa"].total_bytes == 4352 * 43 * 1024 == 191_627_264
    # CSA: ceil(64000 / 4) = 16000, padded to 16128 cells · 21 layers · 512 · 2 B
    assert (by["dsv4_csa"].announced, by["dsv4_csa"].cells) == (16000, 16128)
    assert by["dsv4_csa"].total_bytes == 16128 * 21 * 1024 == 346_816_512
    # HCA: ceil(64000 / 128) = 500 -> 512 cells · 20 layers · 1024 B; indexer: 16128 · 21 · 128 · 2 B
    assert by["dsv4_hca"].total_bytes == 512 * 20 * 1024 == 10_485_760
    assert by["dsv4_lid"].total_bytes == 16128 * 21 * 256 == 86_704_128
    # states, f32 kv + score: CSA 2 · 4 · 1024 · 8 rows · 21; HCA 2 · 4 · 512 · 128 · 20; lid 2 · 4 · 256 · 8 · 21
    assert by["dsv4_state_csa"].total_bytes == 2 * 4 * 1024 * 8 * 21 == 1_376_256
    assert by["dsv4_state_hca"].total_bytes == 2 * 4 * 512 * 128 * 20 == 10 * MiB
    assert by["dsv4_state_lid"].total_bytes == 2 * 4 * 256 * 8 * 21 == 344_064
    assert p.total_bytes == 191_627_264 + 346_816_512 + 10_485_760 + 86_704_128 + 12_206_080 \
        == 647_839_744


def test_streams_are_per_sequence_even_when_unified():
    # -np 4 -c 65536: n_ctx_seq 16384 per stream, 4 streams of everything
    four = {c.kind: c for c in _v4(n_ctx=65536, n_seq_max=4).caches}
    assert four["dsv4_csa"].cells == 4096 and four["dsv4_csa"].n_stream == 4
    assert four["dsv4_csa"].total_bytes == 4096 * 21 * 1024 * 4
    # SWA: GGML_PAD(min(16384, 128 + 512), 256) = 768 cells per stream (n_swa · 1, not · n_seq)
    assert four["dsv4_swa"].cells == 768 and four["dsv4_swa"].total_bytes == 768 * 43 * 1024 * 4
    assert four["dsv4_state_hca"].total_bytes == 2 * 4 * 512 * 128 * 20 * 4
    # --kv-unified: n_ctx_seq = n_ctx = 65536, and the DSV4 cache still keeps 4 streams of it
    uni = {c.kind: c for c in _v4(n_ctx=65536, n_seq_max=4, kv_unified=True).caches}
    assert (uni["dsv4_csa"].cells, uni["dsv4_csa"].n_stream) == (16384, 4)
    assert uni["dsv4_csa"].total_bytes == 16384 * 21 * 1024 * 4


def test_quantized_cache_and_swa_full():
    p = {c.kind: c for c in _v4(n_ctx=4096, cache_type_k="q8_0", cache_type_v="q8_0",
                                swa_full=True).caches}
    # q8_0: 34 B per 32 values -> 544 B per 512-wide row, 136 B per 128-wide indexer row
    assert p["dsv4_swa"].cells == 4096 and p["dsv4_swa"].total_bytes == 4096 * 43 * 544
    assert p["dsv4_lid"].total_bytes == 1024 * 21 * 136
    assert p["dsv4_state_csa"].type_k == "f32"   # the states stay f32


def test_fitting_bisects_the_allocation():
    model = load_preset("deepseek-v4-flash")
    best = max_context(model, 8 << 30, cache_type_k="f16", cache_type_v="f16")
    assert best.total_bytes <= 8 << 30
    bigger = plan(model, n_ctx=best.n_ctx + 256, cache_type_k="f16", cache_type_v="f16")
    assert bigger.total_bytes > 8 << 30
    n, shown = max_sequences(model, 32768, 8 << 30)
    assert n >= 1 and shown.total_bytes <= 8 << 30
    assert plan(model, n_ctx=32768 * (n + 1), n_seq_max=n + 1).total_bytes > 8 << 30


@pytest.mark.parametrize("knobs, field", [
    ({"build": "pre-16812"}, "engine llama.cpp: DeepSeek-V4 came with 2026 builds"),
    ({"cache_type_k": "q4_0"}, None),
])
def test_builds_and_types(knobs, field):
    model = load_preset("deepseek-v4-flash")
    if field is None:
        assert plan(model, n_ctx=4096, **knobs).total_bytes > 0
    else:
        with pytest.raises(ValueError, match=f"^{field}"):
            plan(model, n_ctx=4096, **knobs)


def test_mtp_layers_are_left_out_in_one_line():
    model = from_hf_config(full_config("deepseek-v4-flash"), include_mtp=True)
    assert model.mtp_counted == 1   # num_nextn_predict_layers
    with pytest.raises(ValueError, match="^engine llama.cpp: DeepSeek-V4's cache leaves the MTP"):
        plan(model, n_ctx=4096)


def test_cli_prints_the_log():
    out = subprocess.run([sys.executable, "-m", "calculator", "--preset", "deepseek-v4-flash",
                          "--engine", "llama.cpp", "--context", "64000", "--cache-type-k", "bf16",
                          "--cache-type-v", "bf16", "--batch-size", "4096", "--ubatch-size", "4096",
                          "--format", "log"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "llama_kv_cache_iswa: creating     SWA KV cache, size = 4352 cells" in out.stdout
    js = subprocess.run([sys.executable, "-m", "calculator", "--preset", "deepseek-v4-flash",
                         "--engine", "llama.cpp", "--context", "64000", "--cache-type-k", "bf16",
                         "--cache-type-v", "bf16", "--batch-size", "4096", "--ubatch-size", "4096",
                         "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert json.loads(js.stdout)["total_bytes"] == 647_839_744
