"""SGLang's DeepSeek-V4 pools (DSV4PoolConfigurator at sgl-project/sglang 003fca80), by hand.

DeepSeek-V4-Flash-0731: 43 layers, 21 CSA (rate 4, 128-wide indexer), 20 HCA (rate 128),
head_dim 512, qk_rope_head_dim 64, window 128. The figures are the configurator's arithmetic
written out; the public V4 starts in reach ran on Ascend NPUs (``--device npu``: page 128, a
bfloat16 cache), and the last tests reproduce their lines.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator import from_hf_config
from calculator.engines import sglang_pool
from calculator.engines.sglang_dsv4 import c128_state_fixed_bytes
from model_presets import load_preset
from model_presets.param_counts import full_config

ROOT = Path(__file__).resolve().parents[1]
GiB = 1 << 30
# _get_bytes_per_full_token in SGLang's order: kv_bytes 448 + 2·64 + 8 = 584, indexer 128 + 4 = 132,
# c4 state 2·2·512·4 = 8192 and c4 indexer state 2·2·128·4 = 2048 (float32), c4 ring 8 / window 128
BPFT = (0.1 * 584 * 43 + 1 / 4 * 584 * 21 + 1 / 128 * 584 * 20 + 1 / 4 * 132 * 21
        + 0.1 * (8 / 128) * 8192 * 21 + 0.1 * (8 / 128) * 2048 * 21)
# the HCA state for 256 + 1 request slots: ceil((257·128 + 128 + 1) / 128) · 128 = 33,152 rows of
# 2 · 512 float32 on each of the 20 HCA layers
FIXED = 33_152 * 1024 * 4 * 20


def test_the_configurator_by_hand():
    assert f"{BPFT:.2f}" == "7705.45"
    assert FIXED == 2_715_811_840 == c128_state_fixed_bytes(512, 20, 256)
    p = sglang_pool(load_preset("deepseek-v4-flash"), kv_memory=40 * GiB)
    assert p.bytes_per_full_token == BPFT and p.c128_state_fixed == FIXED
    # full = int((40 GiB − fixed) / bpft), rounded down to the 256-token page
    left = 40 * GiB - FIXED
    assert left == 40_233_861_120
    assert p.tokens == int(left / BPFT) // 256 * 256 == 5_221_376
    assert p.tokens * BPFT <= left < (p.tokens + 256) * BPFT
    # swa = int(full · 0.1) paged: 522,137 -> 521,984; c4 = full // 4; c128 = full // 128;
    # c4 state = swa // 128 · 8 ring rows
    assert (p.swa_tokens, p.c4_tokens, p.c128_tokens, p.c4_state_rows) == \
        (521_984, 1_305_344, 40_792, 4078 * 8)
    assert p.log_lines(config=False) == [
        "DSV4 memory calculation: bytes_per_full_token=7705.45, available_bytes=40.00 GB, "
        "c128_state_fixed=2.53 GB, full_token=5221376",
        "DSV4 pool sizes: full=5221376, swa=521984, c4=1305344, c128=40792, c4_state=32624, "
        "c128_state=0"]
    # the rows those sizes hold: 584 B window rows on 43 layers, CSA entries (584 + 132) on 21,
    # HCA entries on 20, CSA state rows (8192 + 2048) on 21, plus the HCA state
    assert p.total_bytes == (521_984 * 584 * 43 + 1_305_344 * (584 + 132) * 21
                             + 40_792 * 584 * 20 + 32_624 * 10_240 * 21 + FIXED)
    assert p.total_bytes <= 40 * GiB
    assert p.max_requests(65_536) == 5_221_376 / 65_536
    assert p.max_requests(1_000) == 256          # max_running_requests caps it


def test_server_arg_defaults_and_their_lines():
    model = load_preset("deepseek-v4-flash")
    p = sglang_pool(model, kv_memory=40 * GiB, page_size=1)
    assert p.page_size == 256 and p.config_lines == (
        "Setting KV cache dtype to fp8_e4m3 for DeepseekV4ForCausalLM.",
        "Use dsv4 attention backend for DeepseekV4ForCausalLM, setting page_size to 256.",
        "Setting max_running_requests to 256 for DeepseekV4ForCausalLM.",
        "Setting swa_full_tokens_ratio to 0.1 for DeepseekV4ForCausalLM.")
    # a ratio given on the command line stays, and changes the per-token budget
    half = sglang_pool(model, kv_memory=40 * GiB, kv_cache_dtype="fp8_e4m3", swa_full_tokens_ratio=0.5)
    assert half.config_lines[0].startswith("Use dsv4") and len(half.config_lines) == 2
    assert half.bytes_per_full_token == (0.5 * 584 * 43 + 1 / 4 * 584 * 21 + 1 / 128 * 584 * 20
                                         + 1 / 4 * 132 * 21 + 0.5 * (8 / 128) * 8192 * 21
                                         + 0.5 * (8 / 128) * 2048 * 21)
    assert half.tokens < p.tokens


def test_sized_from_tokens_and_refusals():
    model = load_preset("deepseek-v4-flash")
    # pools that hold 524,388 tokens: 2,049 pages of 256 = 524,544; swa int(52,454.4) -> 52,224
    p = sglang_pool(model, tokens=131_072 * 4 + 100)
    assert (p.tokens, p.swa_tokens, p.c4_tokens, p.c128_tokens) == (524_544, 52_224, 131_136, 4098)
    assert p.log_lines(config=False) == [
        "DSV4 pool sizes: full=524544, swa=52224, c4=131136, c128=4098, c4_state=3264, c128_state=0"]
    assert sglang_pool(model, tokens=1).tokens == 256
    with pytest.raises(ValueError, match="^kv-cache-dtype: SGLang serves DeepSeek-V4"):
        sglang_pool(model, kv_memory=GiB, kv_cache_dtype="bfloat16")
    with pytest.raises(ValueError, match="^kv-memory: the HCA state"):
        sglang_pool(model, kv_memory=2 * GiB)            # less than the 2.53 GiB HCA state
    with pytest.raises(ValueError, match="^engine sglang: SGLang sizes DeepSeek-V4's pools over"):
        sglang_pool(from_hf_config(full_config("deepseek-v4-flash"), include_mtp=True), kv_memory=GiB)
    with pytest.raises(ValueError, match="^log-style"):
        p.log_lines("legacy")


def test_cli_json_and_startup_refusal():
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", "--preset",  # noqa: E731
                                     "deepseek-v4-flash", "--engine", "sglang", "--context",
                                     "65536", *a], capture_output=True, text=True, cwd=ROOT,
                                    timeout=120)
    out = run("--kv-memory", "40GiB", "--format", "json")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert (row["engine_tokens"], row["c4_tokens"], row["c128_state_fixed_bytes"]) == \
        (5_221_376, 1_305_344, FIXED)
    bad = run("--gpu", "H200 141GB")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "DeepSeek-V4's startup is not modelled" in bad.stderr


def test_max_running_requests_sizes_the_hca_state():
    # 64 requests: ceil((65 · 128 + 129) / 128) · 128 = 8,576 rows · 1024 · 4 B · 20 HCA layers
    p = sglang_pool(load_preset("deepseek-v4-flash"), kv_memory=40 * GiB, max_running_requests=64)
    assert p.c128_state_fixed == 8_576 * 1024 * 4 * 20 == 702_545_920
    assert p.tokens == int((40 * GiB - 702_545_920) / BPFT) // 256 * 256 == 5_482_752
    assert not any(line.startswith("Setting max_running_requests") for line in p.config_lines)
    assert p.max_requests(1_000) == 64
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", *a],  # noqa: E731
                                    capture_output=True, text=True, cwd=ROOT, timeout=120)
    out = run("--preset", "deepseek-v4-flash", "--engine", "sglang", "--kv-memory", "40GiB",
              "--max-running-requests", "64", "--format", "json")
    assert json.loads(out.stdout)["engine_tokens"] == 5_482_752
    for bad in (["--preset", "llama-3.1-8b", "--engine", "sglang", "--kv-memory", "40GiB"],
                ["--preset", "deepseek-v4-flash", "--engine", "vllm", "--kv-memory", "1GiB"]):
        err = run(*bad, "--max-running-requests", "64")
        assert err.returncode == 2 and err.stderr.count("\n") == 1
        assert "--max-running-requests" in err.stderr


# Two public SGLang starts of DeepSeek-V4-Flash-0731 (W4A8) on 4 Ascend NPUs, TP 4, --kv-cache-dtype
# bfloat16, each rank printing (search index ids 57615238133 and 57382202304):
NPU_LOGS = {
    4: ("Use dsv4 attention backend for DeepseekV4ForCausalLM, setting page_size to 128.",
        "Setting swa_full_tokens_ratio to 0.1 for DeepseekV4ForCausalLM.",
        "DSV4 memory calculation: bytes_per_full_token=7705.45, available_bytes=1.57 GB, "
        "c128_state_fixed=0.07 GB, full_token=209280",
        "DSV4 pool sizes: full=209280, swa=20864, c4=52320, c128=1635, c4_state=1304, c128_state=0"),
    8: ("Use dsv4 attention backend for DeepseekV4ForCausalLM, setting page_size to 128.",
        "Setting swa_full_tokens_ratio to 0.1 for DeepseekV4ForCausalLM.",
        "DSV4 memory calculation: bytes_per_full_token=7705.45, available_bytes=11.89 GB, "
        "c128_state_fixed=0.11 GB, full_token=1641472",
        "DSV4 pool sizes: full=1641472, swa=164096, c4=410368, c128=12824, c4_state=10256, "
        "c128_state=0"),
}


@pytest.mark.parametrize("mrr", sorted(NPU_LOGS))
def test_public_ascend_starts_line_for_line(mrr):
    """--max-running-requests 4 and 8. The logs give the memory to 0.01 GB; every byte count that
    prints it and gives their full_token reproduces all four lines, the lowest is used."""
    model = load_preset("deepseek-v4-flash")
    # the HCA state: (slots + 2) · 128 rows (ceil((slots·128 + 129) / 128) · 128, slots = mrr + 1)
    # of 2 · 512 float32 on 20 layers: 7 · 10,485,760 = 73,400,320 B (0.07 GB), 11 · … = 0.11 GB
    fixed = {4: 7 * 128 * 1024 * 4 * 20, 8: 11 * 128 * 1024 * 4 * 20}[mrr]
    assert fixed == c128_state_fixed_bytes(512, 20, mrr)
    full = {4: 209_280, 8: 1_641_472}[mrr]
    # the least available_bytes whose int((bytes − fixed) / 7705.45) is full_token
    memory = {4: 1_685_996_897, 8: 12_763_623_783}[mrr]
    assert int((memory - fixed) / BPFT) == full and int((memory - 1 - fixed) / BPFT) == full - 1
    p = sglang_pool(model, kv_memory=memory, kv_cache_dtype="bfloat16", max_running_requests=mrr,
                    device="npu")
    assert tuple(p.log_lines()) == NPU_LOGS[mrr]
    # page 128 (the first start's 209,280 is a multiple of 128, not of 256: 817.5 pages);
    # swa = int(0.1 · full) // 128 · 128; c4_state = swa // window(128) · 8 rows
    assert full % 128 == 0 and p.page_size == 128 and (mrr != 4 or full % 256 == 128)
    assert p.swa_tokens == int(full * 0.1) // 128 * 128
    assert p.c4_state_rows == p.swa_tokens // 128 * 8


def test_npu_tokens_path_and_refusals():
    """A third Ascend start (id 57616064554, --max-total-tokens 32768, --max-running-requests 1)
    prints its capped pools: full=32768, swa=3200, c4=8192, c128=256, c4_state=200."""
    model = load_preset("deepseek-v4-flash")
    p = sglang_pool(model, tokens=32_768, kv_cache_dtype="bfloat16", max_running_requests=1,
                    device="npu")
    # swa = int(3,276.8) // 128 · 128 = 3,200; c4_state = 3,200 // 128 · 8 = 200
    assert p.log_lines()[-1] == ("DSV4 pool sizes: full=32768, swa=3200, c4=8192, c128=256, "
                                 "c4_state=200, c128_state=0")
    with pytest.raises(ValueError, match=r"^kv-cache-dtype: .* on CUDA with fp8_e4m3 only"):
        sglang_pool(model, kv_memory=GiB, kv_cache_dtype="bfloat16")
    with pytest.raises(ValueError, match=r"^device: "):
        sglang_pool(model, kv_memory=GiB, device="tpu")
    with pytest.raises(ValueError, match=r"^device: only DeepSeek-V4"):
        sglang_pool(load_preset("llama-3.1-8b"), kv_memory=GiB, device="npu")


def test_cli_device_npu():
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", "--preset", *a],
                                    capture_output=True, text=True, cwd=ROOT, timeout=120)
    out = run("deepseek-v4-flash", "--engine", "sglang", "--device", "npu", "--kv-cache-dtype",
              "bfloat16", "--max-running-requests", "8", "--kv-memory", "12763623783",
              "--format", "log")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == list(NPU_LOGS[8])
    for bad in (("llama-3.1-8b", "--engine", "sglang", "--device", "npu", "--kv-memory", "1GiB"),
                ("deepseek-v4-flash", "--engine", "vllm", "--device", "npu", "--kv-memory", "1GiB")):
        err = run(*bad)
        assert err.returncode == 2 and len(err.stderr.strip().splitlines()) == 1
        assert "--device" in err.stderr
