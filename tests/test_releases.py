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
    ("0.17.1+a03ca76a.nv26.03", "0.17"), ("0.18.0", "0.17"), ("0.19.1", "0.17"),
    ("0.20.2", "0.20"), ("0.21.1", "0.21"), ("v0.22.0", "0.22"), ("0.22.0rc1", "0.22"),
    ("0.27.1", "0.27"), ("0.31.0", "0.27"), ("main", "0.27"),
    # the build labels themselves
    ("0.10", "0.10"), ("0.11", "0.11"), ("0.17", "0.17"), ("0.20", "0.20"), ("0.21", "0.21"),
    ("0.22", "0.22"), ("0.27", "0.27"),
])
def test_vllm_releases_map_to_the_build_that_runs_them(release, build):
    assert vllm_build(release) == build


@pytest.mark.parametrize("release", ["0.9.2", "0.23.0", "0.26.1", "1.0.0", "0.x", "", "latestt"])
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
    by_build = json.loads(cli(*base, "--engine-version", "0.17").stdout)
    assert by_release["engine_version"] == "0.17"
    assert by_release["kv_memory_bytes"] == by_build["kv_memory_bytes"]
    newer = cli(*base[:-2], "--engine-version", "0.31.0")
    assert newer.returncode == 2 and newer.stderr.strip() == (
        "error: --engine-version: 0.31.0 runs vLLM 0.27's rules, whose startup memory is not "
        "modelled (its pool rules are); give --kv-memory, the 'Available KV cache memory' it logs")
    between = cli(*base[:-2], "--engine-version", "0.24.0")
    assert between.returncode == 2 and between.stderr.startswith(
        "error: --engine-version: vLLM '0.24.0' is not in a release window read here")
    assert len(between.stderr.strip().splitlines()) == 1


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
