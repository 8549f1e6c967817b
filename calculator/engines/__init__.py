"""Engine modes: what a serving engine or library really allocates for a ``ModelSpec``.

``theoretical`` is ``calculator.totals.kv_cache_bytes``; each other module reproduces one engine's
allocation rules, citing the file and function read, at the version read.
"""
from .transformers_cache import dynamic_cache_bytes, static_cache_bytes, transformers_cache_bytes
from .llamacpp import LlamaCppPlan
from .llamacpp import max_context as llamacpp_max_context
from .llamacpp import max_sequences as llamacpp_max_sequences
from .llamacpp import plan as llamacpp_plan
from .sglang import SglangPool
from .sglang import pool as sglang_pool
from .vllm import VllmPlan
from .vllm import plan as vllm_plan

ENGINES = ("theoretical", "transformers", "vllm", "sglang", "llama.cpp")

__all__ = ["ENGINES", "LlamaCppPlan", "SglangPool", "llamacpp_max_context", "llamacpp_max_sequences", "llamacpp_plan", "VllmPlan", "dynamic_cache_bytes", "sglang_pool",
           "static_cache_bytes", "transformers_cache_bytes", "vllm_plan"]
