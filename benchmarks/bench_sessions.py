"""Many users on one server: N concurrent browser sessions against one ``streamlit run`` server.

Each session (its own headless Chromium, in its own thread) opens Compare with its own models,
changes the batch to values no other session uses (reruns), opens Capacity and changes the GPU
count, and uploads a ~1 MB config.json on the Custom model page. Reported: rerun latency p50 /
p90 (input change until the page is idle again and the URL carries the new value), errors,
whether any session ever saw another session's value, and the server's resident memory before,
at the peak during, and after the run.

    python -m benchmarks.bench_sessions [--sessions 20] [--changes 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.server import CHROMIUM_ARGS as ARGS, streamlit_server

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["llama-3.1-8b", "qwen3-8b", "gemma-2-9b", "mistral-7b-v0.1", "deepseek-v2-lite",
          "gpt-oss-20b", "llama-3.1-70b", "qwen2.5-7b"]


def rss_mib(pid: int) -> float:
    """Resident memory of the server process and its children (MiB), from /proc."""
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def wait_idle(page) -> None:
    page.wait_for_timeout(150)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stStatusWidget']\")",
                           timeout=300_000)


def rerun(page, field, param: str, value: str, lat: list, crossed: list) -> None:
    """Type a value, wait until the URL carries it and the page is idle; time it; check it stuck."""
    t0 = time.perf_counter()
    field.fill(value)
    field.press("Enter")
    page.wait_for_url(f"**{param}={value}**", timeout=300_000)
    wait_idle(page)
    lat.append(time.perf_counter() - t0)
    if field.input_value() != value:
        crossed.append(f"{param} {field.input_value()} != {value}")


def session(i: int, base: str, changes: int, upload: Path, out: dict) -> None:
    from playwright.sync_api import sync_playwright
    lat, errors, crossed = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            # 20 browsers and the server share this machine's CPUs: first loads can queue
            page.set_default_navigation_timeout(240_000)
            page.set_default_timeout(240_000)
            models = MODELS[i % len(MODELS)]
            page.goto(f"{base}/?models={models}")
            page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=300_000)
            wait_idle(page)
            batch = page.get_by_label("Batch (sequences)", exact=True)
            for k in range(changes):  # 100 + i·10 + k: no other session uses this value
                rerun(page, batch, "batch", str(100 + i * 10 + k), lat, crossed)
            page.goto(f"{base}/capacity?c_model={models}")
            page.get_by_label("GPUs per replica", exact=True).wait_for(timeout=300_000)
            wait_idle(page)
            rerun(page, page.get_by_label("GPUs per replica", exact=True), "c_gpus",
                  str(1 + i % 8), lat, crossed)
            page.goto(f"{base}/custom")
            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.wait_for(
                state="attached", timeout=300_000)
            t0 = time.perf_counter()
            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(upload))
            wait_idle(page)
            lat.append(time.perf_counter() - t0)
            if "Traceback" in page.locator("body").inner_text():
                errors.append("traceback after upload")
            browser.close()
    except Exception as exc:  # a failed session is a result, not a crash of the benchmark
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    out[i] = {"latency": lat, "errors": errors, "crossed": crossed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--changes", type=int, default=3)
    args = ap.parse_args()
    with streamlit_server() as (base, proc):
        before = rss_mib(proc.pid)
        cfg = json.loads((ROOT / "model_presets" / "configs" / "llama-3.1-8b.json").read_text())
        cfg["_padding"] = "x" * 1_000_000  # a ~1 MB config.json (the page's limit is 1 MB)
        with tempfile.TemporaryDirectory() as tmp:
            upload = Path(tmp) / "config.json"
            upload.write_text(json.dumps(cfg)[:1_040_000])
            results: dict[int, dict] = {}
            threads = [threading.Thread(target=session, args=(i, base, args.changes, upload, results))
                       for i in range(args.sessions)]
            peak, t0 = before, time.perf_counter()
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                peak = max(peak, rss_mib(proc.pid))
                time.sleep(0.5)
            wall = time.perf_counter() - t0
        time.sleep(5)
        after = rss_mib(proc.pid)
    lat = sorted(x for r in results.values() for x in r["latency"])
    errors = [e for r in results.values() for e in r["errors"]]
    crossed = [c for r in results.values() for c in r["crossed"]]
    q = statistics.quantiles(lat, n=10) if len(lat) >= 10 else [float("nan")] * 9
    print(f"{args.sessions} sessions × ({args.changes} Compare reruns + 1 Capacity rerun + 1 upload)"
          f" in {wall:.1f} s")
    print(f"rerun latency (input change → URL updated and page idle), browsers included: "
          f"p50 {statistics.median(lat):.2f} s, p90 {q[8]:.2f} s, max {lat[-1]:.2f} s "
          f"over {len(lat)} reruns")
    print(f"errors: {len(errors)}" + (f" ({errors[:3]})" if errors else ""))
    print(f"sessions that saw another session's value: {len(crossed)}"
          + (f" ({crossed[:3]})" if crossed else ""))
    print(f"server RSS: {before:.0f} MiB before, {peak:.0f} MiB peak during, {after:.0f} MiB after")


if __name__ == "__main__":
    main()
