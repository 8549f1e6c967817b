"""Checkpoint pricing: how fast every preset's weights are priced from config.json (the dashboard
does it on each model it loads), and vLLM's "Model loading took X GiB" predicted against the
public logs that ``tests/test_vllm_weights.py`` cites (predicted, logged, difference)."""
from __future__ import annotations

import argparse
import statistics
import time

from calculator.engines.vllm_weights import vllm_load
from calculator.model.quant import checkpoint
from model_presets import checkpoint_config, list_presets

GiB = 1 << 30


def pricing(runs: int) -> None:
    names, configs, skipped = [], [], []
    for name in list_presets():  # presets whose weights are a given count are not priced here
        cfg = checkpoint_config(name)
        try:
            checkpoint(cfg)
        except ValueError:
            skipped.append(name)
            continue
        names.append(name)
        configs.append(cfg)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for cfg in configs:
            checkpoint(cfg)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"price all {len(names)} presets' checkpoints: median {med * 1e3:.1f} ms "
          f"({med / len(names) * 1e3:.2f} ms per model, {runs} runs)"
          + (f"; not priced from config.json: {', '.join(skipped)}" if skipped else ""))


def logs() -> None:
    from tests.test_vllm_weights import LOGS  # the cited public lines
    print(f"{'model':58} {'knobs':>8} {'logged':>8} {'predicted':>10} {'diff MiB':>9}")
    diffs = []
    for what, config, knobs, logged, decimals, _ in LOGS:
        got = vllm_load(config, **knobs).allocated / GiB
        diff = (got - float(logged)) * 1024
        diffs.append(abs(diff))
        kn = " ".join(f"{k}{v}" for k, v in knobs.items())
        print(f"{what[:58]:58} {kn:>8} {logged:>8} {got:>10.{decimals}f} {diff:>+9.1f}")
    print(f"{len(LOGS)} lines: median |diff| {statistics.median(diffs):.1f} MiB, worst "
          f"{max(diffs):.1f} MiB (the printed value's own rounding is ±5 MiB at 2 decimals)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_weights")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    pricing(args.runs)
    logs()


if __name__ == "__main__":
    main()
