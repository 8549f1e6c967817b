"""--engine-version takes a release as users know it: the build whose rules it runs
(calculator/engines/releases.py), in the library and on the command line."""
from __future__ import annotations

import json

import pytest

from calculator.engines.releases import VLLM_WINDOWS, sglang_build, vllm_build
from calculator.engines.vllm import POOL_VERSIONS
from calculator.engines.vllm_startup import VERSIONS
from tests.test_startup import cli


@pytest.mark.parametrize("release, build", [
    ("0.10.1.1", "0.10"), ("0.10.2", "0.10"),
    ("0.11.0", "0.11"), ("v0.16.3", "0.11"), ("0.11.1.dev3+gabc1234", "0.11"),
    ("0.17.1+a03ca76a.nv26.03", "0.17"), ("0.18.0", "0.18"), ("0.19.1", "0.18"),
    ("0.20.2", "0.20"), ("0.21.1", "0.21"), ("v0.22.0", "0.22"), ("0.22.0rc1", "0.22"),
    ("0.23.0", "0.23"), ("0.26.1", "0.23"), ("0.27.1", "0.27"), ("0.31.0", "0.27"),
    ("main", "0.27"),
    # the build labels themselves
    ("0.10", "0.10"), ("0.11", "0.11"), ("0.17", "0.17"), ("0.18", "0.18"), ("0.20", "0.20"), ("0.21", "0.21"),
    ("0.22", "0.22"), ("0.27", "0.27"),
])
def test_vllm_releases_map_to_the_build_that_runs_them(release, build):
    assert vllm_build(release) == build


@pytest.mark.parametrize("release", ["0.9.2", "1.0.0", "0.x", "", "latestt"])
def test_releases_outside_the_read_windows_are_refused_with_the_windows(release):
    with pytest.raises(ValueError, match=r"^engine-version: vLLM .* not in a release window read "
                                         r"here; the builds read are 0\.10 \(v0\.10\), 0\.11 "
                                         r"\(v0\.11 – v0\.16\)"):
        vllm_build(release)


def test_every_window_is_a_build_whose_rules_are_read():
    assert {build for _, _, build in VLLM_WINDOWS} == set(VERSIONS) | set(POOL_VERSIONS)


def test_sglang_takes_its_builds_and_main_but_not_patch_releases():
    assert [sglang_build(v) for v in ("0.4", "0.5", "main", "latest")] == ["0.4", "0.5", "main",
                                                                        "main"]
    with pytest.raises(ValueError, match=r"^engine-version: SGLang '0\.5\.3' is not mapped"):
        sglang_build("0.5.3")


def test_cli_takes_a_release():
    base = ("--preset", "llama-3.1-8b", "--engine", "vllm", "--gpu", "H100", "--context", "8192",
            "--format", "json")
    by_release = json.loads(cli(*base, "--engine-version", "0.19.1").stdout)
    by_build = json.loads(cli(*base, "--engine-version", "0.18").stdout)
    assert by_release["engine_version"] == "0.18"
    assert by_release["kv_memory_bytes"] == by_build["kv_memory_bytes"]
    newer = cli(*base[:-2], "--engine-version", "0.31.0")
    assert newer.returncode == 2 and newer.stderr.strip() == (
        "error: --engine-version: 0.31.0 runs vLLM 0.27's rules, whose startup memory is not "
        "modelled (its pool rules are); give --kv-memory, the 'Available KV cache memory' it logs")
    older = cli(*base[:-2], "--engine-version", "0.9.2")
    assert older.returncode == 2 and older.stderr.startswith(
        "error: --engine-version: vLLM '0.9.2' is not in a release window read here")
    assert len(older.stderr.strip().splitlines()) == 1


def test_cli_pool_from_a_v0_31_log():
    # The v0.31.0 A100 start (find_string id 70682754770): "Available KV cache memory: 56.21 GiB",
    # "GPU KV cache size: 460,496 tokens", "Maximum concurrency for 131,072 tokens per request:
    # 3.51x". 56.21 GiB // 2 MiB blocks (16 tokens · 32 layers · 8 heads · 256 · 2 B) = 28,779
    # blocks → int(28,779 / 8,192 · 131,072) = 460,464; the logged 460,496 is 28,781 blocks, a
    # figure that also prints as 56.21 GiB (56.2148)
    out = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--kv-memory", "56.21GiB",
              "--context", "131072", "--engine-version", "0.31.0", "--format", "log").stdout
    assert out.strip().split("\n")[-2:] == ["GPU KV cache size: 460,464 tokens",
                                    "Maximum concurrency for 131,072 tokens per request: 3.51x"]
    exact = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--kv-memory",
                str(28_781 * (2 << 20)), "--context", "131072", "--engine-version", "0.31.0",
                "--format", "log").stdout
    assert "GPU KV cache size: 460,496 tokens" in exact


def test_v0_23_to_v0_26_size_full_attention_pools_and_refuse_the_rest():
    from calculator.engines import vllm_plan
    from model_presets import load_preset
    kw = dict(max_model_len=32_768, kv_memory=20 << 30)
    # full attention: the 0.22 and 0.27 rules agree (20 GiB // (16 · 128 KiB) = 10,240 blocks,
    # cdiv(32,768, 16) = 2,048 per request → 5.00x, 163,840 tokens)
    llama = load_preset("llama-3.1-8b")
    mid, new = vllm_plan(llama, version="0.23", **kw), vllm_plan(llama, version="0.27", **kw)
    assert (mid.num_blocks, mid.num_tokens) == (new.num_blocks, new.num_tokens) == (10_240, 163_840)
    # sliding windows (async scheduling's in-flight blocks, #47728) and state layers are refused
    for preset in ("gemma-3-27b", "qwen3.5-27b"):
        with pytest.raises(ValueError, match=r"^engine-version: vLLM v0\.23 – v0\.26 pools for "
                                             r"sliding-window and state layers are not read"):
            vllm_plan(load_preset(preset), version="0.23", **kw)
    out = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--kv-memory", "20GiB",
              "--context", "32768", "--engine-version", "0.25.1", "--format", "json").stdout
    row = json.loads(out)
    assert row["engine_version"] == "0.23" and row["engine_tokens"] == 163_840
