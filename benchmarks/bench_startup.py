"""Predicted vs logged startup memory over every collected public log (vLLM's "Available KV cache
memory", SGLang's token pool), with the error distribution. Run: ``python -m benchmarks.bench_startup``.
"""
from __future__ import annotations

import statistics

from benchmarks.startup_logs import SGLANG_LOGS, VLLM_LOGS, tolerance
from calculator.engines import sglang_pool
from calculator.engines.sglang_startup import predict as sglang_predict
from calculator.engines.vllm_startup import DEFAULT_VERSION
from calculator.engines.vllm_startup import predict as vllm_predict

GIB = 1 << 30


def predicted(log) -> int:
    """The predicted figure in bytes (vLLM: available KV memory; SGLang: the pool's K + V)."""
    model = log.model()
    if log.engine == "vllm":
        return vllm_predict(model, log.gpu, **log.knobs).available
    start = sglang_predict(model, log.gpu, **log.knobs)
    pool = sglang_pool(model, kv_memory=start.available, tp=log.knobs.get("tp", 1))
    return pool.k_bytes + pool.v_bytes


def rows() -> list[dict]:
    out = []
    for log in VLLM_LOGS + SGLANG_LOGS:
        logged = round(float(log.logged_gib) * GIB)
        got = predicted(log)
        # the rule the prediction used: vLLM's build, SGLang's fraction rule ("given": the log's
        # --mem-fraction-static, where no build's default applies)
        rule = log.knobs.get("version", DEFAULT_VERSION if log.engine == "vllm" else
                             "given" if "mem_fraction_static" in log.knobs else "main")
        out.append({"engine": log.engine, "what": log.what, "rule": rule, "release": log.version,
                    "logged_gib": float(log.logged_gib),
                    "predicted_gib": got / GIB, "error_gib": (got - logged) / GIB,
                    "error_pct": 100 * (got - logged) / abs(logged),
                    "within": abs(got - logged) <= tolerance(logged)})
    return out


def other_rule(rule: str, older: str = "0.11") -> list[float]:
    """Errors (GiB) of the vLLM logs read under ``rule`` when predicted with the ``older`` rule:
    what choosing the build changes."""
    out = []
    for log in VLLM_LOGS:
        if log.knobs.get("version", DEFAULT_VERSION) != rule:
            continue
        knobs = {**log.knobs, "version": older}
        got = vllm_predict(log.model(), log.gpu, **knobs).available
        out.append((got - round(float(log.logged_gib) * GIB)) / GIB)
    return out


def main() -> None:
    table = rows()
    for r in table:
        print(f"{r['engine']:>6}  {r['rule']:>5} ({r['release'][:12]:<12})  "
              f"{r['what'][:60]:<60}  logged {r['logged_gib']:7.2f}  predicted "
              f"{r['predicted_gib']:7.2f} GiB  error {r['error_gib']:+.3f} GiB "
              f"({r['error_pct']:+.2f} %)  {'ok' if r['within'] else 'OUT'}")
    for engine in ("vllm", "sglang"):
        errs = [abs(r["error_gib"]) for r in table if r["engine"] == engine]
        pcts = [abs(r["error_pct"]) for r in table if r["engine"] == engine]
        n_ok = sum(r["within"] for r in table if r["engine"] == engine)
        print(f"{engine}: {len(errs)} logs, {n_ok} within max(1.5 %, 0.2 GiB); |error| median "
              f"{statistics.median(errs):.3f} GiB ({statistics.median(pcts):.2f} %), worst "
              f"{max(errs):.3f} GiB ({max(pcts):.2f} %)")
    older = other_rule("0.18")
    print(f"the {len(older)} v0.18 – v0.19 logs under the 0.11 rule (its sort-based sampler): "
          "errors "
          + ", ".join(f"{e:+.3f}" for e in older) + " GiB")


if __name__ == "__main__":
    main()
