"""Startup memory from the CLI: ``--engine vllm|sglang --gpu`` predicts and prints what the engine
logs, one-line errors name the flag (or the config field) at fault, and weights larger than the
card end the log at the load's failure (the arithmetic behind it: ``test_startup.py``)."""
import json

import pytest

from calculator.engines.sglang_startup import predict as sglang_predict
from calculator.engines.vllm_startup import predict as vllm_predict
from calculator.gpus import GPU_SPECS
from model_presets import load_preset
from tests.cli_run import ROOT, cli

GIB = 1 << 30
H100 = GPU_SPECS["H100 80GB"]


def test_cli_predicts_vllm_memory_and_prints_its_lines():
    out = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100 80GB",
              "--context", "16000", "--format", "log", "--engine-version", "0.11")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Model loading took 14.99 GiB memory", "Available KV cache memory: 51.43 GiB",
        "GPU KV cache size: 421,280 tokens",
        "Maximum concurrency for 16,000 tokens per request: 26.33x"]
    row = json.loads(cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100 80GB",
                         "--context", "16000", "--format", "json", "--max-batch",
                         "--engine-version", "0.11").stdout)
    assert row["kv_memory_bytes"] == 55_218_821_857 and row["gpu_total_bytes"] == 85_030_076_416
    assert (row["weight_bytes_per_gpu"], row["activation_bytes"], row["non_torch_bytes"],
            row["cudagraph_bytes"]) == (16_094_076_928, 5_074_583_552, 139_586_437, 0)
    assert row["max_batch"] == {"16000": 26} and row["engine_version"] == "0.11"
    # --kv-memory still overrides the prediction
    given = json.loads(cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100 80GB",
                           "--kv-memory", "40GiB", "--format", "json").stdout)
    assert given["kv_memory_bytes"] == 40 * GIB and "activation_bytes" not in given


def test_cli_says_when_vllm_would_stop():
    out = cli("--preset", "gpt-oss-120b", "--engine", "vllm", "--gpu", "H100", "--format", "log",
              "--engine-version", "0.11")
    assert out.returncode == 0
    assert out.stdout.splitlines()[1] == "Available KV cache memory: -2.16 GiB"  # #27508: -2.28
    assert out.stdout.splitlines()[-1].startswith("ValueError: No available memory for the cache")


def test_cli_says_the_load_fails_when_the_weights_exceed_the_card():
    # Llama-3.1-70B on one H100: 141,140,967,424 B of weights as vLLM allocates them (131.45 GiB)
    # against the 85,030,076,416 B (79.19 GiB) the driver reports: torch fails inside the load,
    # so neither "Model loading took" nor the KV-pool error is printed
    out = cli("--preset", "llama-3.1-70b", "--engine", "vllm", "--gpu", "H100 80GB",
              "--format", "log")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "torch.OutOfMemoryError: CUDA out of memory while loading the weights (the weights take "
        "131.45 GiB per GPU, more than the card's 79.19 GiB)"]
    table = cli("--preset", "llama-3.1-70b", "--engine", "vllm", "--gpu", "H100 80GB").stdout
    assert table.splitlines()[-1] == (
        "  the weights take 131.45 GiB per GPU, more than the card's 79.19 GiB: the engine fails "
        "while loading them (torch.OutOfMemoryError: CUDA out of memory); add GPUs (tensor "
        "parallel) or serve a smaller checkpoint")
    # SGLang prints its "Load weight begin" line first
    sg = cli("--preset", "llama-3.1-70b", "--engine", "sglang", "--gpu", "H100 80GB",
             "--format", "log").stdout.splitlines()
    assert sg[0].startswith("Load weight begin. avail mem=")
    assert sg[1].startswith("torch.OutOfMemoryError: CUDA out of memory while loading the weights")
    # on two GPUs the weights fit and the pool rules speak again
    two = cli("--preset", "llama-3.1-70b", "--engine", "vllm", "--gpu", "H100 80GB", "--gpus", "2",
              "--mem-util", "0.5", "--format", "log").stdout.splitlines()
    assert two[-1].startswith("ValueError: No available memory for the cache")


def test_cli_sglang_prediction_and_its_lines():
    out = cli("--preset", "llama-3.1-8b", "--engine", "sglang", "--gpu", "H100 80GB",
              "--format", "json")
    row = json.loads(out.stdout)
    # main: 13,440 MiB + the prefill graph's 58 sizes · 8 MiB = 13,904 → round(0.82952, 3) = 0.83
    assert row["mem_fraction_static"] == "0.83" and row["mem_fraction_static_default"] is True
    assert row["engine_version"] == "main" and row["prefill_graph_reserve_mib"] == 464.0
    assert row["vlm_cut"] is None
    s = sglang_predict(load_preset("llama-3.1-8b"), H100)
    assert row["kv_memory_bytes"] == s.available and row["engine_tokens"] == s.available // 131_072
    log = cli("--preset", "llama-3.1-8b", "--engine", "sglang", "--gpu", "H100 80GB",
              "--format", "log").stdout.splitlines()
    assert log[0] == "Load weight begin. avail mem=78.74 GB"
    assert log[1].startswith("Load weight end. type=LlamaForCausalLM, avail mem=")
    assert log[2].startswith(f"KV Cache is allocated. dtype: torch.bfloat16, #tokens: {row['engine_tokens']}")


@pytest.mark.parametrize("args, needle", [
    (["--engine", "vllm", "--gpu", "H100", "--engine-version", "0.9"], "--engine-version: vLLM '0.9' is not in a release window"),
    (["--engine", "sglang", "--gpu", "96GiB"], "gpu: nvidia-smi's memory.total for 96GiB"),
    (["--engine", "sglang", "--gpu", "H100", "--mem-util", "1.5"], "--mem-util: must be in (0, 1)"),
    (["--engine", "vllm", "--gpu", "H100", "--non-torch", "lots"], "--non-torch: give a size"),
    (["--engine", "vllm", "--max-batch"], "--max-context / --max-batch: need --gpu NAME"),
])
def test_cli_startup_errors_are_one_line(args, needle):
    out = cli("--preset", "llama-3.1-8b", "--context", "8k", *args)
    assert out.returncode == 2 and needle in out.stderr and out.stderr.count("\n") == 1


def test_cli_gpus_is_the_tensor_parallel_size_of_an_engine():
    # 8 × L40S, EP: the Qwen3-235B-A22B-FP8 run of benchmarks/startup_logs.py (it logged 10.65 GiB,
    # 238,208 tokens, 7.27x; this preset's 40,960-position rope cache is 0.06 GiB smaller)
    out = cli("--preset", "qwen3-235b-a22b", "--checkpoint", "FP8", "--engine", "vllm", "--gpu",
              "L40S", "--gpus", "8", "--enable-expert-parallel", "--context", "32768",
              "--format", "log", "--engine-version", "0.10")
    assert out.stdout.splitlines()[1:] == ["Available KV cache memory: 10.71 GiB",
                                           "GPU KV cache size: 238,896 tokens",
                                           "Maximum concurrency for 32,768 tokens per request: 7.29x"]
    bad = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100", "--gpus", "4",
              "--tp", "2")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --gpus: 4 GPUs with --tp 2")


def test_vllm_language_model_only_on_the_cli():
    # text only: no tower and no encoder pass; the builds read before the flag (0.10, 0.11) and
    # SGLang refuse it with one line
    gemma = load_preset("gemma-3-27b")
    text = vllm_predict(gemma, H100, language_model_only=True)
    assert text.mm_encoder == "text only" and text.mm_note == ""
    assert text.weights < vllm_predict(gemma, H100).weights
    row = json.loads(cli("--preset", "gemma-3-27b", "--engine", "vllm", "--gpu", "H100 80GB",
                         "--context", "8192", "--language-model-only", "--format", "json").stdout)
    assert row["mm_encoder_profile"] == "text only" and row["kv_memory_bytes"] == text.available
    old = cli("--preset", "gemma-3-27b", "--engine", "vllm", "--gpu", "H100 80GB",
              "--engine-version", "0.11", "--language-model-only")
    assert old.returncode == 2
    assert "--language-model-only: vLLM's --language-model-only arrived in February 2026" in old.stderr
    wrong = cli("--preset", "gemma-3-27b", "--engine", "sglang", "--language-model-only")
    assert wrong.returncode == 2 and "--language-model-only: a vLLM flag" in wrong.stderr


@pytest.mark.parametrize("engine", ["vllm", "sglang", None])
def test_a_malformed_hybrid_config_names_its_field_in_every_mode(tmp_path, engine):
    # 3 Mamba groups cannot split Nemotron-3-Nano's 64 × 64 = 4,096-wide mixer: the error names the
    # config's field, not a flag the CLI does not have, nor "weights unknown"
    config = {**json.loads((ROOT / "model_presets" / "configs" / "nemotron-3-nano-30b-a3b.json").read_text()),
              "n_groups": 3}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    args = ["--config", str(path), "--gpu", "H100 80GB", "--context", "8k"]
    out = cli(*args, *(["--engine", engine] if engine else ["--max-batch"]))
    assert out.returncode == 2
    assert out.stderr.strip() == "error: n_groups: 3 does not divide the Mamba width 4096"
