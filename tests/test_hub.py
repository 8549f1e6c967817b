"""Hugging Face model ids against a real local hub server: same bytes as the pasted config, exact
weight bytes from safetensors headers, every failure one line, offline from the cache."""
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from calculator import kv_cache_bytes, plan
from calculator.hub import model_from_hub, parse_model_id, weights_from_headers
from calculator.model.quant import checkpoint
from calculator.load import model_from_config_text
from calculator.units import parse_count
from model_presets import load_preset
from tests.hub_server import TOKEN

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "model_presets" / "configs"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "calculator", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, env={**os.environ, **(env or {})})


def test_model_id_gives_the_same_bytes_as_the_pasted_config(hub_env):
    model, hub = model_from_hub("meta-llama/Llama-3.1-8B")
    pasted = model_from_config_text((CONFIGS / "llama-3.1-8b.json").read_text())
    for ctx, batch in ((1, 1), (8192, 4), (131072, 2)):
        a, b = kv_cache_bytes(model, ctx, batch), kv_cache_bytes(pasted, ctx, batch)
        assert (a.kv_bytes, a.state_bytes, a.groups) == (b.kv_bytes, b.state_bytes, b.groups)
    # 131,072 tokens × 131,072 B/token (32 layers · 8 heads · 256 · 2 B)
    assert kv_cache_bytes(model, 131072).total_bytes == 131_072 * 131_072
    assert model.name == "meta-llama/Llama-3.1-8B" and hub.commit and len(hub.commit) == 40


def test_exact_weights_from_sharded_safetensors_headers(hub_env):
    model, hub = model_from_hub("meta-llama/Llama-3.1-8B")
    # 8,030,261,248 bf16 parameters × 2 B = 16,060,522,496 (the real index's total_size)
    assert model.param_count == 8_030_261_248 == load_preset("llama-3.1-8b").param_count
    assert model.weight_bytes == 16_060_522_496 and hub.weights.files == 4
    # Only headers travel: every GET of a shard is a range request for its first 100,001 bytes.
    shard_gets = [r for r in hub_env.requests if r[0] == "GET" and r[1].endswith(".safetensors")]
    assert len(shard_gets) >= 4 and all(r[3] == "bytes=0-100000" for r in shard_gets)


def test_mxfp4_checkpoint_counts_its_real_bytes(hub_env):
    model, hub = model_from_hub("openai/gpt-oss-20b")
    # Experts: 24 layers × 32 experts × (5760 + 2880) rows × 90 blocks × (16 B values + 1 B scale)
    mxfp4 = 24 * 32 * (5760 + 2880) * 90 * 17
    assert mxfp4 == 10_152_345_600
    # Everything else bf16: 20,914,757,184 params − 24·32·(2880·5760 + 2880·2880) expert params
    bf16_params = 20_914_757_184 - 24 * 32 * (2880 * 5760 + 2880 * 2880)
    assert model.weight_bytes == 2 * bf16_params + mxfp4 == 13_761_264_768
    assert model.param_count == 20_914_757_184 == load_preset("gpt-oss-20b").param_count
    cap = plan(model, gpu_bytes=80 << 30)
    assert cap.weights_bytes == 13_761_264_768 and "checkpoint" in cap.weights_from
    # Asking for another weight dtype falls back to parameters × dtype: 20,914,757,184 × 2 B
    assert plan(model, gpu_bytes=80 << 30, weight_dtype="bf16").weights_bytes == 41_829_514_368


def test_single_file_checkpoint_and_revision(hub_env):
    model, hub = model_from_hub("openai-community/gpt2")
    assert (model.param_count, model.weight_bytes, hub.weights.files) == (124_439_808, 248_879_616, 1)
    tagged, thub = model_from_hub("meta-llama/Llama-3.1-8B@v1.0")
    assert tagged.name == "meta-llama/Llama-3.1-8B@v1.0" and thub.commit == hub_env.commit(
        "meta-llama/Llama-3.1-8B", "v1.0")


def test_no_safetensors_still_gives_the_cache(hub_env):
    model, hub = model_from_hub("google/gemma-3-27b-it")
    assert "no safetensors" in hub.weights_note
    # the weights then come from config.json alone: transformers' own count of Gemma 3 27B
    assert model.param_count == 27_432_406_640 and model.weights_from.startswith("config.json")
    assert kv_cache_bytes(model, 32768).kv_bytes == kv_cache_bytes(load_preset("gemma-3-27b"), 32768).kv_bytes


def test_token_is_sent_only_when_given(hub_env, monkeypatch):
    with pytest.raises(ValueError, match="not found on the Hub .*private"):
        model_from_hub("acme/private-llama")
    assert model_from_hub("acme/private-llama", token=TOKEN)[0].param_count == 8_030_261_248
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert model_from_hub("acme/gated-llama")[0].weight_bytes == 16_060_522_496
    assert all(auth in (None, f"Bearer {TOKEN}") for _, _, auth, _ in hub_env.requests)


FAILURES = [
    ("nobody/nothing", "not found on the Hub"),
    ("acme/gated-llama", "is gated: request access at"),
    ("acme/private-llama", "or private: set HF_TOKEN"),
    ("acme/no-config", "has no config.json"),
    ("acme/bad-json", "config.json of acme/bad-json: config: not valid JSON"),
    ("acme/bad-config", "num_key_value_heads: 7 does not divide"),
    ("acme/rate-limited", "rate-limiting requests (HTTP 429)"),
    ("acme/broken", "answered HTTP 503"),
    ("meta-llama/Llama-3.1-8B@nope", "revision 'nope' not found"),
    ("not a model id", "is not a model id"),
]


@pytest.mark.parametrize("model_id, needle", FAILURES)
def test_every_failure_is_one_line(hub_env, model_id, needle):
    with pytest.raises(ValueError) as err:
        model_from_hub(model_id)
    text = str(err.value)
    assert text.startswith("hf-model: ") and needle in text and "\n" not in text


@pytest.mark.parametrize("model_id, needle", FAILURES[:3] + FAILURES[6:8])
def test_cli_failures_exit_2_with_one_line(hub_env, model_id, needle):
    out = cli("--hf-model", model_id, "--context", "8k")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_a_slow_hub_is_abandoned_at_the_deadline(hub_env):
    import time
    start = time.monotonic()
    with pytest.raises(ValueError, match="did not answer within 1 s"):
        model_from_hub("acme/slow", deadline=1)
    assert time.monotonic() - start < 3


def test_no_network_then_cache_then_offline(hub_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ValueError, match="cannot reach http://127.0.0.1:9"):
        model_from_hub("meta-llama/Llama-3.1-8B")
    monkeypatch.setenv("HF_ENDPOINT", hub_env.url)
    online = replace(model_from_hub("meta-llama/Llama-3.1-8B")[0], source="")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # network gone: the cache answers
    assert replace(model_from_hub("meta-llama/Llama-3.1-8B")[0], source="") == online
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert replace(model_from_hub("meta-llama/Llama-3.1-8B")[0], source="") == online
    assert online.weight_bytes == 16_060_522_496
    with pytest.raises(ValueError, match="not in the local hub cache and HF_HUB_OFFLINE=1"):
        model_from_hub("openai/gpt-oss-20b")


def test_cli_hf_model_json_and_capacity(hub_env):
    d = json.loads(cli("--hf-model", "meta-llama/Llama-3.1-8B", "--context", "128k", "--batch", "2",
                       "--format", "json").stdout)
    assert d["model"] == "meta-llama/Llama-3.1-8B" and d["kv_bytes"] == 2 * 131_072 * 131_072
    out = cli("--hf-model", "openai/gpt-oss-20b", "--max-batch", "--context", "32k", "--gpu", "H100 80GB")
    assert out.returncode == 0, out.stderr
    assert "weights: 13,761,264,768 bytes from checkpoint bytes (safetensors headers)" in out.stdout
    private = cli("--hf-model", "acme/private-llama", "--context", "1k", env={"HF_TOKEN": TOKEN})
    assert private.returncode == 0 and TOKEN not in private.stdout + private.stderr


def test_cli_offline_from_cache(hub_env):
    assert cli("--hf-model", "openai-community/gpt2", "--context", "1k").returncode == 0
    out = cli("--hf-model", "openai-community/gpt2", "--context", "1k", "--format", "json",
              env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"})
    # 12 layers · 12 heads · (64 + 64) · 2 B (bf16 cache, the default) · 1024 tokens
    assert out.returncode == 0 and json.loads(out.stdout)["kv_bytes"] == 12 * 12 * 128 * 2 * 1024


def test_readme_hub_example_runs(hub_env):
    lines = re.findall(r"^(?:HF_TOKEN=\S+ )?python -m calculator --hf-model.*$",
                       (ROOT / "README.md").read_text(), re.M)
    assert lines
    for line in lines:
        args = shlex.split(line.split("python -m calculator ", 1)[1])
        out = cli(*args, env={"HF_TOKEN": TOKEN})
        assert out.returncode == 0, (line, out.stderr)


@pytest.mark.parametrize("text, expected", [
    ("meta-llama/Llama-3.1-8B", ("meta-llama/Llama-3.1-8B", None)),
    ("Qwen/Qwen3-8B@main", ("Qwen/Qwen3-8B", "main")),
    ("https://huggingface.co/openai/gpt-oss-20b", ("openai/gpt-oss-20b", None)),
    (" org/name@0123456789abcdef0123456789abcdef01234567 ",
     ("org/name", "0123456789abcdef0123456789abcdef01234567")),
])
def test_parse_model_id(text, expected):
    assert parse_model_id(text) == expected


@pytest.mark.parametrize("text", ["", "llama", "a/b/c", "../etc/passwd", "org/na me", "org/--x", 5])
def test_parse_model_id_rejects(text):
    with pytest.raises(ValueError, match="^hf-model: "):
        parse_model_id(text)


def test_weights_from_headers_hand_counted():
    headers = {"a.safetensors": {"__metadata__": {}, "w": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 30]},
                                 "b": {"dtype": "F32", "shape": [7], "data_offsets": [30, 58]}},
               "b.safetensors": {"x_blocks": {"dtype": "U8", "shape": [2, 4, 16], "data_offsets": [0, 128]},
                                 "x_scales": {"dtype": "U8", "shape": [2, 4], "data_offsets": [128, 136]}}}
    w = weights_from_headers(headers)
    # params: 15 + 7 + 128·2 (two fp4 per byte) = 278; bytes 30 + 28 + 128 + 8 = 194
    assert (w.param_count, w.weight_bytes, w.files) == (278, 194, 2)
    bad = {"a": {"w": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 29]}}}
    with pytest.raises(ValueError, match="has 29 bytes"):
        weights_from_headers(bad)


@pytest.mark.parametrize("text, expected", [
    ("8030261248", 8_030_261_248), ("8.03e9", 8_030_000_000), ("70B", 70 * 10**9),
    ("1.2T", 1_200_000_000_000), ("124M", 124_000_000), ("7,241,732,096", 7_241_732_096),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-5B", "1.5", "8x", "1e99"])
def test_parse_count_rejects(text):
    with pytest.raises(ValueError, match="^params: "):
        parse_count(text)


@pytest.mark.parametrize("repo, expected", [
    # 8,030,261,248 bf16 parameters × 2 B
    ("meta-llama/Llama-3.1-8B", 16_060_522_496),
    # see test_mxfp4_checkpoint_counts_its_real_bytes
    ("openai/gpt-oss-20b", 13_761_264_768),
    # Qwen3-8B-FP8: 36 layers · 192,937,984 Linear weights at 1 B (q, o 4096·4096; k, v
    # 1024·4096; gate, up, down 12288·4096) + F32 scales per 128×128 block: q 32·32, k 8·32,
    # v 8·32, o 32·32, gate, up 96·32, down 32·96 (11,776 blocks · 4 B = 47,104 B per layer)
    # + embed, lm_head 2 · 151,936 · 4096 · 2 B + norms (36 · (2 · 4096 + 2 · 128) + 4096) · 2 B
    ("Qwen/Qwen3-8B-FP8",
     36 * (192_937_984 + 47_104) + 2 * 151_936 * 4096 * 2 + (36 * (2 * 4096 + 2 * 128) + 4096) * 2),
    # Qwen2.5-7B-Instruct-AWQ: 28 layers · 233,046,016 Linear weights · 133/256 B (AWQ GEMM g128)
    # + fp16 q/k/v biases 28 · 4608 · 2 B + embed, lm_head 2 · 152,064 · 3584 · 2 B
    # + norms (28 · 2 + 1) · 3584 · 2 B; vLLM logs this checkpoint as "Checkpoint size: 5.19 GiB"
    ("Qwen/Qwen2.5-7B-Instruct-AWQ",
     28 * 233_046_016 * 133 // 256 + 28 * 4608 * 2 + 2 * 152_064 * 3584 * 2 + 57 * 3584 * 2),
])
def test_config_alone_prices_what_the_safetensors_headers_hold(hub_env, repo, expected):
    model, hub = model_from_hub(repo)
    assert hub.weights.weight_bytes == expected  # the headers' own total
    assert checkpoint(hub.config).weight_bytes == expected  # config.json alone, no headers
    assert model.weight_bytes == expected and model.weights_from.endswith("(safetensors headers)")
