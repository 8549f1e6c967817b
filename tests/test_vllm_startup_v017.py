"""vLLM startup from v0.17 (``vllm_startup``, ``vllm_profile``): the Triton top-k/top-p sampler's
profiling peak, ceil'd requested memory, v0.22's CUDA-graph estimate (given, zero on ROCm and on
the V2 runner, else flagged missing) and the pool's token line; by hand, in the CLI and against
the rules' edges."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from benchmarks.startup_logs import VLLM_LOGS
from calculator.engines import vllm_plan
from calculator.engines.vllm_profile import sampler_peak_v017, triton_buffer
from calculator.engines.vllm_startup import DEFAULT_VERSION, predict, v2_runner
from calculator.gpus import GIB, GPU_SPECS, sm_count
from model_presets import load_preset
from tests.cli_run import cli

H100 = GPU_SPECS["H100 80GB"]
# Qwen2.5-72B-Instruct's config.json: the base preset's shapes, 32,768 positions (rope cache)
QWEN25_72B_INSTRUCT = [log.model for log in VLLM_LOGS if log.what.startswith("Qwen2.5-72B")][0]
L40S = GPU_SPECS["L40S 48GB"]


def test_triton_buffer_rows_follow_the_sm_count():
    # apply_top_k_top_p_triton: programs = min(SMs, rows); buffer rows = min(next_pow2(programs), SMs)
    # A10G, 80 SMs, 256 rows: programs 80 → min(128, 80) = 80 rows of 151,936 float32
    assert triton_buffer(256, 151_936, 80) == 4 * 80 * 151_936 == 48_619_520
    # H100, 132 SMs, 1024 rows: programs 132 → min(256, 132) = 132 rows
    assert triton_buffer(1024, 128_256, 132) == 4 * 132 * 128_256
    # 100 rows on an H100: programs 100 → next_pow2 128 ≤ 132 → 128 rows, more than the batch
    assert triton_buffer(100, 1000, 132) == 4 * 128 * 1000
    # SM count not read: next_pow2(rows), the most it can be on any card (100 rows → 128)
    assert triton_buffer(256, 1000, None) == 4 * 256 * 1000
    assert triton_buffer(100, 1000, None) == 4 * 128 * 1000 >= triton_buffer(100, 1000, 132)
    assert sm_count("A10G") == 80 and sm_count("L40S") == 142 and sm_count("96GiB") is None


def test_new_catalogue_cards_are_the_totals_vllm_read():
    from calculator.gpus import gpu_memory
    # "31.75" GiB (torch's 32510 MB on a V100-PCIE-32GB): the MiB nearest, (3175 · 1024 + 50) // 100
    assert gpu_memory("V100 32GB") == 32_512 * (1 << 20) and GPU_SPECS["V100 32GB"].sm == 70
    # vLLM 0.19.0's "(9.02/11.63 GiB)" on an RTX 3060: (1163 · 1024 + 50) // 100 = 11,909 MiB
    assert gpu_memory("RTX 3060") == 11_909 * (1 << 20)
    assert sm_count("V100") == 80 and sm_count("RTX 3060") == 28
    # every SM count names a catalogue card
    from calculator.gpus import SM_COUNTS
    assert set(SM_COUNTS) <= set(GPU_SPECS)


def test_sampler_peak_from_v017_by_hand():
    # 8+ rows: bf16 logits 2 B + float32 copy 4 B + probabilities 4 B + noise 4 B = 14 B per
    # logit, plus the Triton buffer (A10G: 80 rows)
    assert sampler_peak_v017(256, 151_936, sms=80) == 14 * 256 * 151_936 + 4 * 80 * 151_936
    # under 8 rows the sort stays: 2 + 4 + 32 = 38 B per logit
    assert sampler_peak_v017(4, 1000, sms=80) == 38 * 4 * 1000
    # a float32 model: no separate copy, 4 + 8 B per logit
    assert sampler_peak_v017(8, 1000, "fp32", sms=8) == 12 * 8 * 1000 + 4 * 8 * 1000
    # 0.17 with VLLM_USE_FLASHINFER_SAMPLER=1: masked logits + probabilities, 2 + 4 + 8 B
    assert sampler_peak_v017(256, 1000, sampler="flashinfer", version="0.17") == 14 * 256 * 1000
    # 0.22 runs the sampler again with a generator, natively: FlashInfer no longer lowers the peak
    assert sampler_peak_v017(256, 1000, sampler="flashinfer", sms=80, version="0.22") == \
        sampler_peak_v017(256, 1000, sms=80, version="0.22")
    with pytest.raises(ValueError, match="^sampler: one of native, flashinfer"):
        sampler_peak_v017(8, 1000, sampler="triton")


def test_qwen25_72b_tp4_on_l40s_by_hand():
    # the v0.19.0 run of benchmarks/startup_logs.py: 4 × L40S, TP 4, serve, util 0.9; it logged
    # 'Available KV cache memory: 5.11 GiB'
    s = predict(QWEN25_72B_INSTRUCT(), L40S, tp=4, version="0.17")
    assert s.weights_line == "Model loading took 33.98 GiB memory"  # as the log printed
    # requested = ceil(47,695,527,936 · 0.9) = ceil(42,925,975,142.4)
    assert s.requested == 42_925_975_143
    # serve on a card under 70 GiB: 2048 tokens, 256 requests
    assert (s.max_num_batched_tokens, s.max_num_seqs) == (2048, 256)
    # hidden states (2048 + 2 · 256 rows) · 8192 · 2 B; logits 14 B × 256 × 152,064; the Triton
    # buffer: programs min(142, 256) = 142, rows min(256, 142) = 142
    assert (s.sampler_bytes == 2560 * 8192 * 2 + 14 * 256 * 152_064 + 4 * 142 * 152_064
            == 673_312_768)
    # the forward's MLP over 2048 tokens: (2 · 8192 + 3 · 29,568 / 4 + 8192) · 2 B per token
    assert s.forward_bytes == 2048 * (2 * 8192 + 3 * 29_568 // 4 + 8192) * 2 == 191_496_192
    assert s.activation == s.sampler_bytes
    # TP 4 on PCIe: 0.21 GiB of non-torch growth
    assert s.non_torch == round(0.21 * GIB) == 225_485_783
    assert s.available == 42_925_975_143 - s.weights - 673_312_768 - 225_485_783
    assert f"{s.available / GIB:.2f}" == "5.16"  # logged 5.11: 0.05 GiB, inside the 0.2 GiB bar
    # under the 0.11 rule the sort over 256 × 152,064 logits costs 38 B each: 0.79 GiB less
    old = predict(QWEN25_72B_INSTRUCT(), L40S, tp=4, version="0.11")
    assert old.sampler_bytes == (2048 + 2 * 256) * 8192 * 2 + 38 * 256 * 152_064
    assert f"{old.available / GIB:.2f}" == "4.37"


def test_v022_deducts_a_given_cuda_graph_estimate_and_flags_a_missing_one():
    llama = load_preset("llama-3.1-8b")
    free = predict(llama, H100, version="0.22")
    assert free.runner == "V1" and free.cudagraph == 0 and free.cudagraph_missing
    assert "upper bound" in free.cudagraph_note
    given = predict(llama, H100, version="0.22", cudagraph=round(0.37 * GIB))
    assert given.available == free.available - round(0.37 * GIB)
    assert not given.cudagraph_missing and given.cudagraph_note == ""
    assert given.log_lines()[-2:] == ["Estimated CUDA graph memory: 0.37 GiB total",
                                      f"Available KV cache memory: {round(given.available / GIB, 2)} GiB"]
    # vLLM's default utilization is 0.92 from v0.20: ceil(85,030,076,416 · 0.92)
    assert free.requested == 78_227_670_303 and free.mem_util == Fraction("0.92")
    # at one utilization, the same activation, non-torch and pool as 0.17, which deducts no graphs
    same = predict(llama, H100, version="0.17", mem_util="0.92")
    assert (same.activation, same.non_torch, same.available) == (
        free.activation, free.non_torch, free.available)
    # hidden (8192 + 2 · 1024) · 4096 · 2 + 14 B × 1024 × 128,256 + the buffer's 132 rows
    assert free.sampler_bytes == 10_240 * 4096 * 2 + 14 * 1024 * 128_256 + 4 * 132 * 128_256
    # on ROCm vLLM skips the estimate: nothing missing
    rocm = predict(llama, GPU_SPECS["MI300X 192GB"], version="0.22")
    assert rocm.cudagraph == 0 and not rocm.cudagraph_missing
    with pytest.raises(ValueError, match="^cudagraph-memory: vLLM 0.17 captures its graphs after"):
        predict(llama, H100, version="0.17", cudagraph=0)
    with pytest.raises(ValueError, match="^cudagraph-memory: must be 0 or more bytes"):
        predict(llama, H100, version="0.22", cudagraph=-1)


def test_v022_runs_dense_qwen3_on_the_v2_runner():
    qwen3 = load_preset("qwen3-8b")
    assert v2_runner(qwen3.config, "0.22") and not v2_runner(qwen3.config, "0.17")
    s = predict(qwen3, H100, version="0.22")
    assert s.runner == "V2" and s.cudagraph == 0 and not s.cudagraph_missing
    # hidden states (8192 + 1024 rows) · 4096 · 2 B, then bf16 logits and their float32 copy:
    # 6 B × 1024 × 151,936 (the dummy batch asks for no top-k / top-p)
    assert s.sampler_bytes == 9216 * 4096 * 2 + 6 * 1024 * 151_936 == 1_008_992_256
    # quantized or MoE Qwen3 stays on the V1 runner
    assert not v2_runner(load_preset("qwen3-8b", checkpoint="FP8").config, "0.22")
    assert not v2_runner(load_preset("qwen3-30b-a3b").config, "0.22")
    assert not v2_runner(load_preset("llama-3.1-8b").config, "0.22")


def test_v022_pool_logs_tokens_from_concurrency():
    gemma = load_preset("gemma-3-27b")
    kw = dict(max_model_len=32_768, kv_memory=20 << 30, max_num_batched_tokens=2048)
    old, new = vllm_plan(gemma, version="0.17", **kw), vllm_plan(gemma, version="0.22", **kw)
    # same blocks (no in-flight rule before 0.27); the token line changes
    assert old.num_blocks == new.num_blocks and old.blocks_per_request == new.blocks_per_request
    assert old.num_tokens == old.num_blocks // len(old.groups) * 16
    assert new.num_tokens == int(new.max_concurrency * 32_768) != old.num_tokens
    # state layers too: the same blocks at the default block size, the token line from concurrency
    qwen35 = load_preset("qwen3.5-27b")
    old = vllm_plan(qwen35, max_model_len=32_768, kv_memory=20 << 30, version="0.17")
    new = vllm_plan(qwen35, max_model_len=32_768, kv_memory=20 << 30, version="0.22")
    assert old.num_blocks == new.num_blocks and old.block_size == new.block_size == 784
    assert new.num_tokens == int(new.max_concurrency * 32_768) != old.num_tokens


def test_cli_default_is_018_and_022_needs_the_graph_estimate():
    base = ("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100", "--context", "16000")
    row = json.loads(cli(*base, "--format", "json").stdout)
    assert DEFAULT_VERSION == "0.18" and row["engine_version"] == "0.18"
    assert row["kv_memory_bytes"] == predict(load_preset("llama-3.1-8b"), H100).available
    missing = json.loads(cli(*base, "--format", "json", "--engine-version", "0.22").stdout)
    assert missing["cudagraph_missing"] is True and missing["model_runner"] == "V1"
    given = json.loads(cli(*base, "--format", "json", "--engine-version", "0.22",
                           "--cudagraph-memory", "0.5GiB").stdout)
    assert given["cudagraph_bytes"] == GIB // 2 and given["cudagraph_missing"] is False
    assert given["kv_memory_bytes"] == missing["kv_memory_bytes"] - GIB // 2
    eager = json.loads(cli(*base, "--format", "json", "--engine-version", "0.22",
                           "--cudagraph-memory", "0").stdout)
    assert eager["kv_memory_bytes"] == missing["kv_memory_bytes"]
    log = cli(*base, "--format", "log", "--engine-version", "0.22")
    assert log.returncode == 2 and "--cudagraph-memory" in log.stderr
    table = cli(*base, "--engine-version", "0.22").stdout
    assert "CUDA graphs not predicted" in table and "upper bound" in table


@pytest.mark.parametrize("args, needle", [
    (("--engine-version", "0.11", "--cudagraph-memory", "1GiB"), "--cudagraph-memory: vLLM 0.11"),
    (("--engine-version", "0.22", "--cudagraph-memory", "lots"), "--cudagraph-memory: give a size"),
])
def test_cli_cudagraph_errors_are_one_line(args, needle):
    out = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100", *args)
    assert out.returncode == 2 and needle in out.stderr and out.stderr.count("\n") == 1


def test_cli_cudagraph_memory_is_a_vllm_flag():
    out = cli("--preset", "llama-3.1-8b", "--engine", "sglang", "--gpu", "H100",
              "--cudagraph-memory", "1GiB")
    assert out.returncode == 2 and out.stderr.startswith("error: --cudagraph-memory: a vLLM figure")


def test_v022_loads_weights_with_max_split_20_mib():
    from calculator.engines.vllm_weights import allocated_bytes
    mib = 1 << 20
    # Qwen2.5-7B's o_proj: 3584 · 3584 · 2 B = 24.5 MiB in a 26 MiB segment; the 1.5 MiB tail is
    # split off by default, kept whole once max_split_size_mb is 20 (the block is ≥ 20 MiB)
    assert allocated_bytes(25_690_112) == 25_690_112
    assert allocated_bytes(25_690_112, 20 * mib) == 26 * mib
    # under 20 MiB nothing changes: 15.5 MiB in a 16 MiB segment keeps its 0.5 MiB tail either way
    assert allocated_bytes(31 * mib // 2, 20 * mib) == allocated_bytes(31 * mib // 2) == 16 * mib
    qwen7 = [log.model for log in VLLM_LOGS if log.what.startswith("Qwen2.5-7B")][0]()
    old = predict(qwen7, L40S, version="0.17")
    new = predict(qwen7, L40S, version="0.22")
    # 28 o_proj tails of 1.5 MiB = 42 MiB more: v0.18.0 printed "14.25", v0.22.0 "14.29"
    assert new.weights - old.weights == 28 * 3 * mib // 2
    assert (old.weights_line, new.weights_line) == ("Model loading took 14.25 GiB memory",
                                                    "Model loading took 14.29 GiB memory")
    # on ROCm the allocator setting is not applied
    assert predict(qwen7, GPU_SPECS["MI300X 192GB"], version="0.22").weights == old.weights


def test_an_engine_built_from_engine_args_takes_the_scheduler_defaults():
    from calculator.engines.vllm_startup import batch_defaults
    # UsageContext.ENGINE_CONTEXT is in neither default table: SchedulerConfig's 2048 / 128
    assert batch_defaults(H100.total_bytes, "H100 80GB", "engine") == (2048, 128)
    s = predict(load_preset("llama-3.1-8b"), L40S, usage="engine", version="0.17")
    assert (s.max_num_batched_tokens, s.max_num_seqs) == (2048, 128)
    # 128 rows on an L40S: programs min(142, 128) = 128, buffer rows min(128, 142) = 128
    assert s.sampler_bytes == (2048 + 256) * 4096 * 2 + 14 * 128 * 128_256 + 4 * 128 * 128_256
    row = json.loads(cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "L40S",
                         "--usage", "engine", "--format", "json").stdout)
    assert row["usage_defaults"] == {"max_num_batched_tokens": 2048, "max_num_seqs": 128}


def test_v017_lines_print_gib_as_format_gib_does():
    from calculator.engines.vllm_startup import VllmStartup
    # mem_utils.format_gib is str(round(b / GiB, 2)): v0.18.0 printed "Available KV cache memory:
    # 13.1 GiB" and a v0.31 start "Model loading took 15.0 GiB memory"
    s = VllmStartup(version="0.17", sampler="native", gpu="card", gpu_total=80 * GIB,
                    mem_util=Fraction(9, 10), weights=15 * GIB, activation=GIB, forward_bytes=0,
                    sampler_bytes=GIB, non_torch=0, non_torch_source="", cudagraph=0,
                    max_num_batched_tokens=2048, max_num_seqs=256,
                    weights_line="Model loading took 15.00 GiB memory")
    # requested ceil(80 GiB · 0.9) = 72 GiB; 72 − 15 − 1 = 56 GiB
    assert s.log_lines() == ["Model loading took 15.0 GiB memory",
                             "Available KV cache memory: 56.0 GiB"]


def test_v020_v021_v022_differ_where_their_branches_do():
    qwen3 = load_preset("qwen3-8b")
    runs = {v: predict(qwen3, H100, version=v, cudagraph=0) for v in ("0.20", "0.21", "0.22")}
    # the V2 model runner takes dense Qwen3 only in v0.22 (#39337, 2026-05-14)
    assert [runs[v].runner for v in ("0.20", "0.21", "0.22")] == ["V1", "V1", "V2"]
    # all three deduct the CUDA-graph estimate and default to utilization 0.92
    assert all(r.mem_util == Fraction(92, 100) for r in runs.values())
    # the 20 MiB split limit while loading (#41268, 2026-04-30) from v0.21: tensors of 20 MiB or
    # more book their whole 2 MiB-rounded segment. The Qwen2.5-7B preset: 15,324,556,288 B in
    # v0.20, as in the 0.17 build, and 44,040,192 B (42 MiB) more from v0.21
    qwen25 = load_preset("qwen2.5-7b")
    loads = [predict(qwen25, H100, version=v, cudagraph=0).weights for v in ("0.20", "0.21")]
    assert loads == [15_324_556_288, 15_368_596_480]
    assert loads[0] == predict(qwen25, H100, version="0.17").weights
    # FlashInfer samples the profiling batch only on request in v0.20 (#40376 made it default
    # after the branch, with a native pass after it, #41375): v0.20 with --sampler flashinfer
    # takes FlashInfer's 4 + 4 B per logit, v0.21 the Triton path whatever the sampler
    llama = load_preset("llama-3.1-8b")
    fi20 = predict(llama, H100, version="0.20", sampler="flashinfer", cudagraph=0)
    fi21 = predict(llama, H100, version="0.21", sampler="flashinfer", cudagraph=0)
    native21 = predict(llama, H100, version="0.21", sampler="native", cudagraph=0)
    assert fi21.sampler_bytes == native21.sampler_bytes > fi20.sampler_bytes
    assert fi20.sampler_words == "FlashInfer top-k/top-p sampler"
