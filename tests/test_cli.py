"""The CLI: README examples run as written, JSON fields are exact, bad input exits 2 in one line."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "calculator", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def readme_examples():
    text = (ROOT / "README.md").read_text()
    # --hf-model examples need a hub: test_hub.py runs them against the local server.
    return [line for line in re.findall(r"^python -m calculator.*$", text, re.M)
            if "--hf-model" not in line]


def test_readme_has_examples():
    assert len(readme_examples()) >= 6


@pytest.mark.parametrize("line", readme_examples())
def test_readme_example_runs(line):
    args = shlex.split(line)[3:]
    out = run(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() and not out.stderr


def test_json_single_context_is_an_object():
    data = json.loads(run("--preset", "deepseek-v3", "--context", "128k", "--format", "json").stdout)
    # 131,072 tokens · 61 layers · 576 · 2 B
    assert data["kv_bytes"] == 131_072 * 61 * 576 * 2 == 9_210_691_584
    assert data["total_bytes"] == data["kv_bytes"] and data["state_bytes"] == 0


def test_json_several_contexts_is_a_list_in_order():
    data = json.loads(run("--preset", "qwen3-next-80b-a3b", "--context", "1M", "--context", "1000",
                          "--batch", "2", "--format", "json").stdout)
    assert [d["context"] for d in data] == [1_048_576, 1000]
    # 2 seqs · 1000 tokens · 24,576 B/token; state 2 · 39,518,208 B (36 DeltaNet layers)
    assert data[1]["kv_bytes"] == 2 * 1000 * 24_576
    assert data[1]["state_bytes"] == 2 * 39_518_208
    assert data[1]["total_bytes"] == data[1]["kv_bytes"] + data[1]["state_bytes"]


def test_json_per_gpu_under_tp_and_pp():
    d = json.loads(run("--preset", "llama-3.1-70b", "--context", "1000", "--tp", "4", "--pp", "2",
                       "--format", "json").stdout)
    # 40 layers per stage · 2 heads per rank · 256 · 2 B · 1000 tokens
    assert d["per_gpu_kv_bytes"] == 40 * 2 * 256 * 2 * 1000


def test_csv_has_raw_bytes():
    out = run("--preset", "llama-3-70b", "--context", "1000", "--batch", "8", "--kv-dtype", "fp16",
              "--attention", "mha", "--format", "csv").stdout.splitlines()
    header, row = out[0].split(","), out[1].split(",")
    assert int(row[header.index("kv_bytes")]) == 20_971_520_000


def test_config_file(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                               "max_position_embeddings": 128}))
    d = json.loads(run("--config", str(cfg), "--context", "10", "--format", "json").stdout)
    assert d["kv_bytes"] == 2 * 10 * 4 * 32 * 2  # 2 layers · 10 tokens · 4 heads · (16+16) · 2 B


@pytest.mark.parametrize("args, needle", [
    (["--preset", "nope"], "preset"),
    (["--preset", "gpt2", "--context", "0"], "context"),
    (["--preset", "gpt2", "--context", "12q"], "context"),
    (["--preset", "gpt2", "--context", "99999999999999999"], "context"),
    (["--preset", "gpt2", "--kv-dtype", "fp9"], "kv dtype"),
    (["--preset", "gpt2", "--batch", "-3"], "batch"),
    (["--preset", "gpt2", "--attention", "gqa", "--kv-heads", "5"], "kv_heads"),
    (["--preset", "gpt2", "--max-context"], "--gpu"),
    (["--preset", "gpt2", "--max-batch", "--gpu", "H900"], "gpu"),
    (["--config", "/nonexistent/config.json"], "config"),
    (["--context", "8k"], "--preset"),
    (["--frobnicate"], "unrecognized"),
])
def test_bad_input_one_line_exit_2(args, needle):
    out = run(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


def test_malformed_and_huge_config_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\"num_hidden_layers\": 2,")
    assert "not valid JSON" in run("--config", str(bad)).stderr
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (50 << 20))
    out = run("--config", str(big))
    assert out.returncode == 2 and "limit" in out.stderr


def test_weights_do_not_fit_message():
    out = run("--preset", "llama-3.1-405b", "--max-context", "--gpu", "H100 80GB")
    assert out.returncode == 0 and "weights alone do not fit" in out.stdout


def test_display_name_is_a_preset_name_case_insensitively():
    for name in ("Llama-3.1-8B", "LLAMA-3.1-8B", "llama-3.1-8b"):
        d = json.loads(run("--preset", name, "--context", "1", "--format", "json").stdout)
        assert d["model"] == "Llama-3.1-8B" and d["kv_bytes"] == 131_072  # 32 · 8 · 256 · 2 B


def test_custom_config_capacity_with_params_and_name():
    cfg = str(ROOT / "model_presets" / "configs" / "qwen3-8b.json")
    out = run("--config", cfg, "--max-batch", "--context", "8k", "--gpu", "H100 80GB")
    assert out.returncode == 0, out.stderr
    # priced from config.json alone: 8,190,735,360 parameters, all bf16 = 16,381,470,720 B;
    # budget floor(85,030,076,416 B (H100's driver total) · 0.9) = 76,527,068,774;
    # free 76,527,068,774 − 16,381,470,720 = 60,145,598,054 // 1,207,959,552 = 49
    assert "weights: 16,381,470,720 bytes from config.json (bf16 checkpoint)" in out.stdout
    assert "max batch at context 8,192: 49 sequences" in out.stdout
    out = run("--config", cfg, "--params", "8.19B", "--name", "my qwen", "--max-batch",
              "--context", "8k", "--gpu", "H100 80GB")
    assert out.returncode == 0, out.stderr
    # budget 76,527,068,774; weights 8.19e9 · 2 = 16,380,000,000;
    # free 60,147,068,774 // (8192 tokens · 36 layers · 8 heads · 256 · 2 B = 1,207,959,552) = 49
    assert out.stdout.startswith("my qwen on 1 × H100 80GB")
    assert "weights: 16,380,000,000 bytes from 8,190,000,000 parameters × bf16" in out.stdout
    assert "max batch at context 8,192: 49 sequences" in out.stdout


def test_config_is_named_by_its_own_name_not_its_folder(tmp_path):
    (tmp_path / "snapshot").mkdir()
    cfg = tmp_path / "snapshot" / "config.json"
    cfg.write_text(json.dumps({"_name_or_path": "org/real-name", "num_hidden_layers": 2,
                               "hidden_size": 64, "num_attention_heads": 4,
                               "max_position_embeddings": 128}))
    assert json.loads(run("--config", str(cfg), "--context", "1", "--format", "json").stdout)["model"] == "org/real-name"
    data = json.loads(cfg.read_text())
    del data["_name_or_path"]
    data["architectures"] = ["LlamaForCausalLM"]
    cfg.write_text(json.dumps(data))
    assert json.loads(run("--config", str(cfg), "--context", "1", "--format", "json").stdout)["model"] == "LlamaForCausalLM"


def test_json_rows_carry_the_weights():
    d = json.loads(run("--preset", "llama-3.1-70b", "--context", "1000", "--tp", "4",
                       "--format", "json").stdout)
    # 70,553,706,496 bf16 parameters; one GPU's TP 4 share 35,278,831,616 B (see test_app_pages)
    assert d["param_count"] == 70_553_706_496 and d["weight_bytes"] == 141_107_412_992
    assert d["weight_bytes_per_gpu"] == 35_278_831_616
    assert d["weights_from"] == "config.json (bf16 checkpoint)"
    d = json.loads(run("--preset", "llama-3.1-70b", "--context", "1000", "--tp", "4", "--pp", "2",
                       "--format", "json").stdout)
    # the busier of 2 stages (the last: 40 layers, final norm, lm_head), its TP 4 share:
    # 40 · 427,851,776 B per layer (see test_app_pages) + 8192 · 2 B + 32,064 · 8192 · 2 B
    assert d["weight_bytes_per_gpu"] == 40 * 427_851_776 + 16_384 + 525_336_576 == 17_639_424_000


def test_vllm_rows_carry_model_loading():
    d = json.loads(run("--preset", "gpt-oss-20b", "--engine", "vllm", "--context", "8k",
                       "--format", "json").stdout)
    # tests/test_weights.py: Marlin-padded MXFP4 experts + bf16 rest + fp32 rope cache
    assert d["weight_bytes"] == 13_761_264_768 and d["weight_bytes_per_gpu"] == 14_731_704_320
    assert d["model_loading_line"] == "Model loading took 13.72 GiB memory"
    d = json.loads(run("--preset", "deepseek-v3", "--engine", "vllm", "--context", "8k",
                       "--format", "json").stdout)
    # MLA, FP8: + 61 bf16 copies of kv_b_proj (512 × 128 heads × 256 × 2 B = 33,554,432 B each),
    # + the rope cache 163,840 × 64 × 2 B, + allocator rounding: embed and lm_head (1,853,358,080 B
    # each) take a 2 MiB-rounded segment, 524,288 B more; each layer's fused_qkv_a_proj scales
    # (3,808 B) round to 4,096
    rounding = 2 * 524_288 + 61 * 288
    assert d["weight_bytes_per_gpu"] == d["weight_bytes"] + 61 * 33_554_432 + 20_971_520 + rounding
    assert d["model_loading_line"] == "Model loading took 628.85 GiB memory"
    d = json.loads(run("--preset", "deepseek-v3.2", "--engine", "vllm", "--context", "8k",
                       "--format", "json").stdout)
    # DSA at build 0.18 (the default; engines/vllm_dsa.py): the same MLA load, plus the int32
    # top-k buffer 8,192 × 2,048 × 4 B, the indexer's own rope (a second 163,840 × 64 × 2 B
    # cache) and 800 B more rounding a layer (wk's 224 B of scales and k_norm's two 256 B
    # vectors each take 512)
    assert d["engine_version"] == "0.18" and "model_loading_note" not in d
    rounding = 2 * 524_288 + 61 * (288 + 800)
    assert d["weight_bytes_per_gpu"] == (d["weight_bytes"] + 61 * 33_554_432 + 2 * 20_971_520
                                         + 8192 * 2048 * 4 + rounding)
    assert d["model_loading_line"] == "Model loading took 629.75 GiB memory"


def test_checkpoint_choice_and_capacity_json():
    assert run("--preset", "qwen3-8b", "--list-checkpoints").stdout.split("\n")[:3] == \
        ["bf16", "FP8", "AWQ int4"]
    d = json.loads(run("--preset", "qwen3-8b", "--checkpoint", "FP8", "--max-batch", "--context",
                       "8k", "--gpu", "H100 80GB", "--format", "json").stdout)
    # Qwen3-8B-FP8: 9,437,399,040 B (tests/test_hub.py); free floor(85,030,076,416 · 0.9) −
    # 9,437,399,040 = 67,089,669,734 // (8192 · 36 layers · 8 heads · 256 · 2 B = 1,207,959,552) = 55
    assert d["weight_bytes"] == 9_437_399_040 and d["max_batch"] == {"8192": 55}
    assert d["model"] == "Qwen3-8B (FP8)"


@pytest.mark.parametrize("args, needle", [
    (["--config", "model_presets/configs/qwen3-8b.json", "--checkpoint", "FP8"], "--checkpoint: only with --preset"),
    (["--preset", "qwen3-8b", "--checkpoint", "int3"], "checkpoint: qwen3-8b has no checkpoint 'int3'; known: bf16, FP8, AWQ int4"),
    (["--preset", "qwen3-8b", "--max-batch", "--gpu", "H100 80GB", "--weight-dtype", "int3"],
     "weight-dtype: unknown 'int3'"),
    (["--list-checkpoints"], "--list-checkpoints: needs --preset"),
])
def test_weight_flags_fail_in_one_line(args, needle):
    out = run(*args)
    assert out.returncode == 2 and needle in out.stderr and out.stderr.count("\n") == 1


def test_cli_contract_for_hostile_files_and_values(tmp_path):
    cases = []
    big = tmp_path / "big.json"  # an integer of 5,000 digits
    big.write_text('{"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64, "x": '
                   + "9" * 5000 + "}")
    cases.append((["--config", str(big)], "config: not valid JSON: a number has more than 4,300 digits"))
    q8 = tmp_path / "q8.json"
    q8.write_text(json.dumps({"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64,
                              "torch_dtype": "q8_0"}))
    cases.append((["--config", str(q8)], "torch_dtype: 'q8_0' is no model dtype"))
    cases.append((["--config", str(tmp_path)], "is not a regular file"))
    cases.append((["--config", "/proc/self/mem"], "config: cannot read '/proc/self/mem'"))
    for flag in ("--kv-lora-rank", "--rope-head-dim", "--kv-heads", "--max-num-batched-tokens", "-ub"):
        cases.append((["--preset", "llama-3.1-8b", flag, "1" + "0" * 30], "must be between 1 and 16,777,216"))
    cases.append((["--preset", "gpt-oss-120b", "--engine", "sglang", "--kv-memory", "40GiB",
                   "--swa-full-tokens-ratio", "1e-300"], "leaves the SWA pool without one page"))
    for args, needle in cases:
        out = run(*args, "--context", "8")
        assert out.returncode == 2 and needle in out.stderr, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and not out.stdout


def test_a_lone_surrogate_name_prints(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"_name_or_path": "\\ud800", "num_hidden_layers": 2, "num_attention_heads": 4, '
                   '"hidden_size": 64}')
    out = run("--config", str(cfg), "--context", "8")
    assert out.returncode == 0 and out.stdout.startswith("custom:")


def test_contexts_beyond_the_models_max_are_marked():
    out = run("--preset", "mistral-7b-v0.1", "--context", "16k", "--context", "64k")
    lines = out.stdout.splitlines()
    assert lines[-3].rstrip().endswith("GiB") and lines[-2].endswith(" *")
    assert lines[-1].startswith("* beyond the model's max context (32,768 tokens)")
    rows = json.loads(run("--preset", "mistral-7b-v0.1", "--context", "16k", "--context", "64k",
                          "--format", "json").stdout)
    assert [r["beyond_model_max_context"] for r in rows] == [False, True]
