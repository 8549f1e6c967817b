"""KV-cache memory calculator: exact integer bytes for MHA/GQA/MQA/MLA, windows, hybrids.

Pure arithmetic (no streamlit, no torch). Typical use::

    from calculator import from_hf_config, kv_cache_bytes
    model = from_hf_config(json.load(open("config.json")), name="my-model")
    kv_cache_bytes(model, context=131072, batch=8, dtype="fp8").total_bytes
"""
from .capacity import CapacityPlan, plan, weights_bytes
from .dtypes import DTYPES, KVDtype, get_dtype
from .gpus import GPUS, gpu_memory
from .hf_config import from_hf_config
from .specs import (FullAttentionSpec, LayerGroup, MLASpec, ModelSpec, SharedKVSpec,
                    SlidingWindowSpec, StateSpec)
from .sweep import sweep
from .totals import Breakdown, kv_cache_bytes, per_token_bytes
from .units import format_bytes, parse_tokens
from .variants import as_variant

__all__ = [
    "Breakdown", "CapacityPlan", "DTYPES", "FullAttentionSpec", "GPUS", "KVDtype", "LayerGroup",
    "MLASpec", "ModelSpec", "SharedKVSpec", "SlidingWindowSpec", "StateSpec", "as_variant",
    "format_bytes", "from_hf_config", "get_dtype", "gpu_memory", "kv_cache_bytes",
    "parse_tokens", "per_token_bytes", "plan", "sweep", "weights_bytes",
]
