"""Benchmark interaction speed of the dashboard.

1. Median server-side rerun time of the Compare page (8 models × 256 context points), with the
   batch input set to its own value (nothing to rebuild) and to a new one (the sweep is
   recomputed), next to a minimal page with one Plotly chart and a dataframe, the two pages'
   reruns interleaved; the figure is the median of the paired ratios. Uses streamlit's AppTest.
2. Time to first render in headless Chromium (page load until the chart is drawn), cold and warm.

    python -m benchmarks.bench_dashboard [--runs 15] [--no-browser]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3", "mistral-7b-v0.1",
          "gemma-3-27b", "qwen3-next-80b-a3b", "gpt-oss-120b"]


def _app(script: Path, params: dict | None) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _rerun(at: AppTest, key: str, value: int) -> float:
    at.number_input(key=key).set_value(value)
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    assert not at.exception, at.exception
    return elapsed


def paired_times(pages: list[tuple[Path, str, dict | None]], runs: int,
                 change: bool) -> list[list[float]]:
    """Server-side rerun times of several pages, interleaved run by run so that drift in the
    machine's speed hits them alike; ``change``: a new value each time (caches miss), else the
    same value (nothing to rebuild)."""
    apps = [(_app(script, params), key) for script, key, params in pages]
    times: list[list[float]] = [[] for _ in apps]
    for i in range(runs):
        for j, (at, key) in enumerate(apps):
            times[j].append(_rerun(at, key, i + 2 if change else 1))
    return times


def first_render(runs: int, script: str = "app.py") -> tuple[float, float]:
    """Seconds from page.goto to the first chart trace drawn: cold (first load) and the median
    of the warm loads, for the app's landing page (Compare) or another script served alike."""
    from playwright.sync_api import sync_playwright
    from benchmarks.server import CHROMIUM_ARGS, streamlit_server
    with streamlit_server(script=script) as (base, _):
        times = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for _ in range(runs):
                page = browser.new_page()
                t0 = time.perf_counter()
                page.goto(f"{base}/")
                page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=60_000)
                times.append(time.perf_counter() - t0)
                page.close()
            browser.close()
        return times[0], statistics.median(times[1:])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--no-browser", action="store_true")
    args = p.parse_args()
    pages = [(ROOT / "views" / "compare.py", "batch", {"models": MODELS}),
             (ROOT / "benchmarks" / "minimal_page.py", "n", None)]
    same, m_same = paired_times(pages, args.runs, change=False)
    new, m_new = paired_times(pages, args.runs, change=True)
    med = statistics.median
    ratio_same = med(a / b for a, b in zip(same, m_same))
    ratio_new = med(a / b for a, b in zip(new, m_new))
    print(f"Minimal page (one 8-trace chart + a 2,048-row dataframe): rerun median "
          f"{med(m_same) * 1000:.1f} ms unchanged, {med(m_new) * 1000:.1f} ms after a change")
    print(f"Compare (8 models × 256 contexts), rerun with nothing changed: median "
          f"{med(same) * 1000:.1f} ms; median paired ratio {ratio_same:.2f}x the minimal page")
    print(f"Compare after a batch change (sweep, figure and table rebuilt): median "
          f"{med(new) * 1000:.1f} ms; median paired ratio {ratio_new:.2f}x the minimal page")
    if not args.no_browser:
        cold, warm = first_render(6)
        m_cold, m_warm = first_render(6, "benchmarks/minimal_page.py")
        print(f"Chromium time to first render of Compare (chart drawn): cold {cold:.2f} s, "
              f"warm median {warm:.2f} s; the minimal page served alike: cold {m_cold:.2f} s, "
              f"warm {m_warm:.2f} s; warm ratio {warm / m_warm:.2f}x")


if __name__ == "__main__":
    main()
