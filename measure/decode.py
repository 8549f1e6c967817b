"""Time one attention decode step (one new query token) over a real cache, and the device's copy
bandwidth, to show how close a token's attention read runs to the memory limit.

``time_decode`` times one layer per layer group; ``time_decode_model`` times one whole decode
step: every attention layer of the model in turn, each over its own cache tensors, so the bytes
read are the model's whole attention cache (GiBs at long contexts, far past any L2).

Full / GQA / MQA / windowed layers use ``scaled_dot_product_attention`` (``enable_gqa``); MLA
uses the absorbed form: scores and output are computed against the latent directly, so the cache
is read without decompression (twice, in fact: once for the scores, once for the values; bytes
read count it once, as a fused kernel would read it). Timing: CUDA events on GPUs, ``perf_counter`` elsewhere; median
of many runs after warm-up.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from calculator.dtypes import get_dtype
from calculator.specs import FullAttentionSpec, MLASpec, ModelSpec
from calculator.totals import kv_cache_bytes

from .alloc import TORCH_DTYPES
from .check import resolve_device

FLOAT_DTYPES = ("fp32", "fp16", "bf16")
CPU_LAYER_LIMIT = 1 << 30  # decode on CPU is for small caches only


@dataclass(frozen=True, kw_only=True)
class DecodeRow:
    model: str
    group: str
    device: str
    kv_dtype: str
    batch: int
    context: int
    bytes_read: int          # one layer's cache
    median_s: float          # one layer's decode step
    achieved_gbps: float
    copy_gbps: float
    fraction_of_copy: float
    model_floor_s: float     # whole model's cache / copy bandwidth: the per-token time floor
    timing: str = "eager"    # "cuda graph": the step captured once and replayed (no launch gaps)

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(fn, device: torch.device, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1000)
        else:
            t0 = time.perf_counter()
            fn()
            if device.type == "mps":
                torch.mps.synchronize()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(device: torch.device, nbytes: int, repeats: int = 20) -> float:
    """Bytes per second of a device-to-device copy (read + write counted)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    return 2 * nbytes / _timed(lambda: dst.copy_(src), device, repeats)


def _step(spec, heads: int, batch: int, context: int, dtype, device):
    """A closure doing one decode step of one layer, and the bytes of its cache."""
    t = spec.tokens_held(context)
    gen = torch.Generator(device="cpu").manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float32).to(device=device, dtype=dtype)

    if isinstance(spec, MLASpec):
        width, rank = spec.kv_lora_rank + spec.qk_rope_head_dim, spec.kv_lora_rank
        latent = rand(batch, t, width)
        q = rand(batch, spec.num_heads or heads, width)
        scale = width ** -0.5

        if spec.indexer is None:
            def step():
                p = torch.softmax(torch.bmm(q, latent.transpose(1, 2)) * scale, dim=-1)
                return torch.bmm(p, latent[..., :rank])
            return step, latent.numel() * latent.element_size()
        # DSA: the lightning indexer first scores every cached token from its fp8 key and scale
        ix = spec.indexer
        keys = torch.randint(0, 127, (batch, t, ix.key_bytes), generator=gen,
                             dtype=torch.uint8).to(device)  # bytes below 0x7f: finite e4m3
        scales = torch.rand(batch, t, ix.scale_bytes // 4, generator=gen).to(device)
        q_index = rand(batch, 1, ix.head_dim)

        def step():
            k = keys.view(torch.float8_e4m3fn).to(dtype)
            if scales.shape[-1] and ix.head_dim % scales.shape[-1] == 0:
                k = (k.view(batch, t, scales.shape[-1], -1) * scales.unsqueeze(-1).to(dtype)).view(batch, t, -1)
            index = torch.relu(torch.bmm(q_index, k.transpose(1, 2)))
            p = torch.softmax(torch.bmm(q, latent.transpose(1, 2)) * scale + index, dim=-1)
            return torch.bmm(p, latent[..., :rank])
        nbytes = latent.numel() * latent.element_size() + keys.numel() + scales.numel() * 4
        return step, nbytes
    assert isinstance(spec, FullAttentionSpec)
    k = rand(batch, spec.num_kv_heads, t, spec.head_dim_k)
    v = rand(batch, spec.num_kv_heads, t, spec.head_dim_v)
    q = rand(batch, heads, 1, spec.head_dim_k)
    gqa = heads != spec.num_kv_heads

    def step():
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
    return step, (k.numel() + v.numel()) * k.element_size()


def _float_dtype(dtype: str):
    kv = get_dtype(dtype)
    if kv.name not in FLOAT_DTYPES:
        raise ValueError(f"kv dtype: decode timing needs fp32, fp16 or bf16, got {kv.name}")
    return kv


def attention_groups(model: ModelSpec) -> list:
    """The layer groups a decode step reads (attention and MLA; not state or shared-KV)."""
    return [g for g in model.groups if isinstance(g.spec, (FullAttentionSpec, MLASpec))]


def attention_bytes(model: ModelSpec, context: int, batch: int, dtype: str) -> int:
    """Bytes one whole-model decode step reads: every attention layer's cache."""
    kv = get_dtype(dtype)
    return sum(batch * g.count * g.spec.tokens_held(context) * g.spec.per_token_bytes(kv)
               for g in attention_groups(model))


def time_decode(model: ModelSpec, *, context: int, batch: int = 1, dtype: str = "bf16",
                device: str = "auto", repeats: int | None = None) -> list[DecodeRow]:
    """One row per attention layer group: a single layer's decode step, timed."""
    dev = resolve_device(device)
    kv = _float_dtype(dtype)
    total = kv_cache_bytes(model, context, batch, kv).kv_bytes
    repeats = repeats or (50 if dev.type == "cuda" else 10)
    rows, bandwidth = [], None
    for g in attention_groups(model):
        layer_bytes = batch * g.spec.tokens_held(context) * g.spec.per_token_bytes(kv)
        if dev.type != "cuda" and layer_bytes > CPU_LAYER_LIMIT:
            raise ValueError(f"context: decode on {dev} is for small caches; one layer needs "
                             f"{layer_bytes:,} bytes (limit {CPU_LAYER_LIMIT:,})")
        if bandwidth is None:
            size = 1 << 30 if dev.type == "cuda" else 1 << 26
            bandwidth = copy_bandwidth(dev, size)
        step, nbytes = _step(g.spec, model.num_attention_heads, batch, context,
                             TORCH_DTYPES[kv.name], dev)
        assert nbytes == layer_bytes, (nbytes, layer_bytes)
        with torch.inference_mode():
            seconds = _timed(step, dev, repeats)
        rows.append(DecodeRow(model=model.name, group=g.spec.label(), device=str(dev),
                              kv_dtype=kv.name, batch=batch, context=context,
                              bytes_read=nbytes, median_s=seconds,
                              achieved_gbps=nbytes / seconds / 1e9, copy_gbps=bandwidth / 1e9,
                              fraction_of_copy=nbytes / seconds / bandwidth,
                              model_floor_s=total / bandwidth))
        del step
    return rows


def time_decode_model(model: ModelSpec, *, context: int, batch: int = 1, dtype: str = "bf16",
                      device: str = "auto", repeats: int | None = None,
                      graph: bool = True) -> DecodeRow:
    """One decode step over every attention layer (each with its own cache), timed as a whole;
    on CUDA captured as one graph unless ``graph`` is false.

    ``bytes_read`` is the sum of all layers' caches, which equals the calculator's attention
    bytes for the model (state layers are not read by attention and are left out)."""
    from .check import free_bytes
    dev = resolve_device(device)
    kv = _float_dtype(dtype)
    groups = attention_groups(model)
    want = attention_bytes(model, context, batch, kv.name)
    limit = free_bytes(dev) if dev.type == "cuda" else CPU_LAYER_LIMIT
    if want > limit:
        raise ValueError(f"context: the whole cache needs {want:,} bytes; {dev} has {limit:,} to spare")
    steps, nbytes = [], 0
    for g in groups:
        for _ in range(g.count):
            step, n = _step(g.spec, model.num_attention_heads, batch, context,
                            TORCH_DTYPES[kv.name], dev)
            steps.append(step)
            nbytes += n
    assert nbytes == want, (nbytes, want)
    bandwidth = copy_bandwidth(dev, 1 << 30 if dev.type == "cuda" else 1 << 26)

    def whole():
        for s in steps:
            s()
    timing = "eager"
    with torch.inference_mode():
        if dev.type == "cuda" and graph:  # one graph replay = the whole step, without Python launch gaps
            whole()
            torch.cuda.synchronize(dev)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                whole()
            run, timing = graph.replay, "cuda graph"
        else:
            run = whole
        seconds = _timed(run, dev, repeats or (20 if dev.type == "cuda" else 5))
    layers = sum(g.count for g in groups)
    row = DecodeRow(model=model.name, group=f"whole model: {layers} attention layers",
                    device=str(dev), kv_dtype=kv.name, batch=batch, context=context,
                    bytes_read=nbytes, median_s=seconds, achieved_gbps=nbytes / seconds / 1e9,
                    copy_gbps=bandwidth / 1e9, fraction_of_copy=nbytes / seconds / bandwidth,
                    model_floor_s=nbytes / bandwidth, timing=timing)
    del steps, whole, run
    return row
