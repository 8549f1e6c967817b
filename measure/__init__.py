"""Allocate real KV caches with torch and check them against the calculator, byte for byte.

``alloc`` lays caches out as engines do (HF-style contiguous, vLLM-style paged, MLA latents, ring
buffers, SSM states, packed quantized payloads + scales); ``check`` measures what was allocated,
fits big caches to the device by measuring a subset and extrapolating, and checks for leaks;
``decode`` times one attention decode step over a cache. ``python -m measure`` is the CLI.
"""
