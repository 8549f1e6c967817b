"""The quick benchmarks still run end to end (a preset or a moved test table once broke
bench_weights without any test noticing); their figures are read in the closing notes, not here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_weights_runs_and_covers_every_cited_line():
    from tests.test_vllm_weights import LOGS
    out = _run("benchmarks.bench_weights", "--runs", "1")
    assert f"{len(LOGS)} lines: median |diff|" in out


def test_bench_startup_runs_over_every_collected_log():
    from benchmarks.startup_logs import SGLANG_LOGS, VLLM_LOGS
    out = _run("benchmarks.bench_startup")
    assert f"vllm: {len(VLLM_LOGS)} logs" in out and f"sglang: {len(SGLANG_LOGS)} logs" in out
