"""Capacity planning: what fits on the GPUs next to the weights.

Each of the ``tp × pp`` GPUs that hold one model replica gets ``floor(memory × utilization)``
bytes; the KV cache and state of the busiest GPU must fit in what the weights leave. The weights
are, in order of preference: parameters × ``weight_dtype`` when one is asked for (split evenly);
the checkpoint's exact bytes (safetensors headers of a Hub model, split evenly; or priced from
config.json by ``calculator.model``, where one GPU holds its tensor-parallel share as
``model/sharding.py`` cuts it, replicated norms and KV heads and padded vocabulary included, of
the pipeline stage that holds the most); parameters × the
model dtype for an unquantized model whose shapes are unknown. A quantized checkpoint that cannot
be priced is refused with its reason, never priced as 16-bit. Answers are exact ints found by
bisection (context) or division (batch, since bytes are linear in the number of sequences).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .dtypes import KVDtype, get_dtype
from .specs import ModelSpec
from .totals import MAX_BATCH, MAX_CONTEXT, check_positive, kv_cache_bytes


# Weight-only formats that are no KV dtype: 32 FP4 values + one e8m0 scale (MXFP4, gpt-oss),
# 16 FP4 values + one FP8 scale (NVFP4; the per-tensor global scale not counted).
WEIGHT_ONLY = {d.name: d for d in (
    KVDtype(name="mxfp4", group_size=32, group_bytes=17, scale_bytes=1,
            description="MXFP4: 32 e2m1 values + 1 e8m0 scale = 4.25 bits"),
    KVDtype(name="nvfp4", group_size=16, group_bytes=9, scale_bytes=1,
            description="NVFP4: 16 e2m1 values + 1 e4m3 scale = 4.5 bits"),
)}


def weight_format(name: object) -> KVDtype:
    """A format for weights: any KV format, or a weight-only one (mxfp4, nvfp4)."""
    if isinstance(name, str) and name.strip().lower() in WEIGHT_ONLY:
        return WEIGHT_ONLY[name.strip().lower()]
    try:
        return get_dtype(name)
    except ValueError:
        known = ", ".join(["bf16", "fp16", "fp32", "fp8", "int8", "q8_0", "q4_0", "int4_gN"]
                          + list(WEIGHT_ONLY))
        raise ValueError(f"weight-dtype: unknown {name!r}; known: {known}") from None


def weights_bytes(param_count: int, weight_dtype_name: str | KVDtype = "bf16") -> int:
    """Bytes of ``param_count`` weights stored as ``weight_dtype_name`` (group scales included)."""
    check_positive("param_count", param_count, 1 << 50)
    dt = weight_format(weight_dtype_name)
    return -(-param_count * dt.group_bytes // dt.group_size)


def weights_per_gpu(model: ModelSpec, tp: int = 1, pp: int = 1, *,
                    vision: bool = True) -> int | None:
    """One GPU's share of the model's checkpoint bytes (None when the bytes are unknown): where
    the config's shapes are known, its TP share of the busiest pipeline stage (``_sharded_weights``),
    else an even split over tp × pp. ``vision=False``: an engine that leaves the vision tower and
    its projector unbuilt (None where the tower's tensors are not listed)."""
    if model.weight_bytes is None:
        return None
    sharded = _sharded_weights(model, tp, pp, vision)
    if not vision and sharded is None:
        return None
    return -(-model.weight_bytes // (tp * pp)) if sharded is None else sharded


def _sharded_weights(model: ModelSpec, tp: int, pp: int = 1, vision: bool = True) -> int | None:
    """One GPU's checkpoint bytes under ``tp``, on the pipeline stage that holds the most: each
    stage has the layers ``totals.pp_stages`` gives it, the first also the embeddings (and a
    vision tower), the last the final norm and lm_head. None when the bytes were not priced from
    config.json, on one GPU (with the tower), or when the split does not apply."""
    if (model.config is None or model.weight_bytes is None or (tp * pp == 1 and vision)
            or not model.weights_from.startswith("config.json")):
        return None
    from .model.quant import checkpoint
    from .model.sharding import sharded_params, stage_params
    from .totals import pp_stages
    try:
        params = [p for p in sharded_params(model.config, tp) if vision or p.part != "vision"]
        if pp == 1:
            return checkpoint(model.config, params).weight_bytes
        stages = stage_params(params, pp_stages(model.num_layers - model.mtp_counted, pp))
        return max(checkpoint(model.config, st).weight_bytes for st in stages)
    except ValueError:
        return None


def _utilization(value: object) -> Fraction:
    try:
        frac = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"mem_util: expected a fraction such as 0.9, got {value!r}") from None
    if not 0 < frac <= 1:
        raise ValueError(f"mem_util: must be in (0, 1], got {value}")
    return frac


@dataclass(frozen=True, kw_only=True)
class CapacityPlan:
    """Memory on the busiest GPU of one replica, and the questions it answers."""

    model: ModelSpec
    gpu_bytes: int
    gpus: int
    tp: int
    pp: int
    kv_dtype: str
    layout: str
    block_size: int
    budget_per_gpu: int    # floor(gpu_bytes × mem_util)
    weights_per_gpu: int   # ceil(weights / gpus)
    weights_bytes: int     # the whole model's weights
    weights_from: str      # how weights_bytes was found

    @property
    def free_per_gpu(self) -> int:
        """Bytes left for KV + state on each GPU; negative when the weights alone don't fit."""
        return self.budget_per_gpu - self.weights_per_gpu

    @property
    def weights_fit(self) -> bool:
        return self.free_per_gpu > 0

    def used_per_gpu(self, context: int, batch: int) -> int:
        return kv_cache_bytes(self.model, context, batch, self.kv_dtype, self.tp, self.pp,
                              self.layout, self.block_size).per_gpu_total_bytes

    def fits(self, context: int, batch: int) -> bool:
        return self.used_per_gpu(context, batch) <= self.free_per_gpu

    def max_context(self, batch: int = 1) -> int | None:
        """Longest context at ``batch`` that fits; 0 if none; None if unbounded (windows cap it)."""
        check_positive("batch", batch, MAX_BATCH)
        if not self.fits(1, batch):
            return 0
        if self.fits(MAX_CONTEXT, batch):
            return None
        lo, hi = self._segment(batch)  # fits(lo), not fits(hi), no window starts in between
        best = self._solve_linear(lo, hi, batch)
        if best is not None:
            return best
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.fits(mid, batch) else (lo, mid)
        return lo

    def _segment(self, batch: int) -> tuple[int, int]:
        """(lo, hi) with fits(lo) and not fits(hi) and no window edge strictly inside: the bytes
        bend only where a window fills, so between two window sizes they are linear in the
        context (in whole blocks when paged). Found by bisecting over the window sizes."""
        edges = sorted({g.spec.window for g in self.model.groups
                        if g.spec.window and 1 < g.spec.window < MAX_CONTEXT})
        lo, hi = 1, MAX_CONTEXT
        a, b = 0, len(edges)          # edges[:a] fit, edges[b:] do not
        while a < b:
            mid = (a + b) // 2
            if self.fits(edges[mid], batch):
                lo, a = edges[mid], mid + 1
            else:
                hi, b = edges[mid], mid
        return lo, hi

    def _solve_linear(self, lo: int, hi: int, batch: int) -> int | None:
        """The longest fitting context in [lo, hi) from the line through two points (a block
        apart when paged), kept only if it checks out: fits, and one token more does not. None
        where it does not (pipeline stages whose maximum bends inside the segment): bisect."""
        step = self.block_size if self.layout == "paged" else 1
        a = -(-lo // step) * step
        if a + step >= hi:
            return None
        u0, u1 = self.used_per_gpu(a, batch), self.used_per_gpu(a + step, batch)
        if u1 <= u0:
            return None
        best = min(a + (self.free_per_gpu - u0) // (u1 - u0) * step, hi - 1)
        if lo <= best < hi and self.fits(best, batch) and not self.fits(best + 1, batch):
            return best
        return None

    def max_batch(self, context: int) -> int:
        """Most concurrent sequences of ``context`` tokens that fit (0 if not even one)."""
        per_seq = self.used_per_gpu(context, 1)
        if self.free_per_gpu <= 0:
            return 0
        return min(self.free_per_gpu // per_seq, MAX_BATCH) if per_seq else MAX_BATCH


def plan(model: ModelSpec, *, gpu_bytes: int, gpus: int = 1, tp: int | None = None, pp: int = 1,
         mem_util: object = "0.9", weight_dtype: str | None = None, kv_dtype: str = "bf16",
         layout: str = "theoretical", block_size: int = 16) -> CapacityPlan:
    """Set up a capacity plan; ``gpus`` must equal ``tp × pp`` (``tp`` defaults to gpus / pp)."""
    check_positive("gpu_bytes", gpu_bytes, 1 << 50)
    check_positive("gpus", gpus, 4096)
    check_positive("pp", pp, 4096)
    if tp is None:
        if gpus % pp:
            raise ValueError(f"gpus: {gpus} GPUs cannot be split into {pp} pipeline stages")
        tp = gpus // pp
    check_positive("tp", tp, 4096)
    if tp * pp != gpus:
        raise ValueError(f"gpus: {gpus} GPUs but tp × pp = {tp} × {pp} = {tp * pp}")
    get_dtype(kv_dtype)
    kv_cache_bytes(model, 1, 1, kv_dtype, tp, pp, layout, block_size)  # validates the rest
    per_gpu = None
    if weight_dtype is None and model.weight_bytes is not None:
        weights, weights_from = model.weight_bytes, model.weights_from or "checkpoint bytes"
        per_gpu = _sharded_weights(model, tp, pp)
        if per_gpu is not None:
            where = f"its TP {tp} share" if pp == 1 else \
                f"its TP {tp} share of the busiest of {pp} pipeline stages"
            weights_from += f"; one GPU holds {where} (norms, routers and KV heads " \
                            "replicated as engines do)"
    elif weight_dtype is None and model.quant_method:
        raise ValueError(model.weights_error or f"weight-dtype: the checkpoint is "
                         f"{model.quant_method}-quantized; with a stated parameter count, name the "
                         "format to price them in (--weight-dtype, or the weight dtype choice)")
    else:
        if model.param_count is None:
            # the config's own fault (a field its tensors cannot be built from) comes first
            raise ValueError(model.weights_error or "param_count: the model has no parameter "
                             "count; give one (--params 8.03e9 in the CLI, the parameters field "
                             "in the dashboard)")
        wdt = weight_format(weight_dtype or model.dtype).name
        weights = weights_bytes(model.param_count, wdt)
        weights_from = f"{model.param_count:,} parameters × {wdt}"
    util = _utilization(mem_util)
    budget = gpu_bytes * util.numerator // util.denominator
    return CapacityPlan(model=model, gpu_bytes=gpu_bytes, gpus=gpus, tp=tp, pp=pp,
                        kv_dtype=get_dtype(kv_dtype).name, layout=layout, block_size=block_size,
                        budget_per_gpu=budget,
                        weights_per_gpu=-(-weights // gpus) if per_gpu is None else per_gpu,
                        weights_bytes=weights, weights_from=weights_from)
