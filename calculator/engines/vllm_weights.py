"""What one GPU holds after vLLM loads a checkpoint: "Model loading took X GiB".

vLLM builds each layer sharded for tensor parallelism and loads the checkpoint into it; the line
``Model loading took X GiB memory`` (``v1/worker/gpu_model_runner.py`` · ``load_model``) is the
growth of ``torch.cuda.max_memory_allocated`` over the load (``utils/mem_utils.py`` ·
``DeviceMemoryProfiler``). Read at vLLM main @ 007d5005 (``model_executor/layers/``):

- ``linear.py``: ``QKVParallelLinear`` splits query heads by TP and keeps
  ``max(1, kv_heads / tp)`` KV heads per rank (replicated past ``tp = kv_heads``);
  ``MergedColumnParallelLinear`` (gate_up) and ``ColumnParallelLinear`` split rows;
  ``RowParallelLinear`` splits columns and keeps its bias whole; ``ReplicatedLinear`` (routers,
  MLA's down projections) is whole on every rank. q/k/v and gate/up are one tensor each
  (the checkpoint's are copied into it), and quantized formats store their packed weights, scales
  and zeros per merged tensor in the same layout as the checkpoint.
- ``vocab_parallel_embedding.py``: the vocabulary is padded to a multiple of 64
  (``DEFAULT_VOCAB_PADDING_SIZE``) and split by TP, for the embedding and for an untied lm_head.
- ``fused_moe/layer.py`` · ``FusedMoE``: experts are two tensors per layer, w13 ``[E, 2·I/tp, H]``
  and w2 ``[E, H, I/tp]`` (with ``--enable-expert-parallel``: ``E/tp`` whole experts).
  ``quantization/mxfp4.py`` · ``Mxfp4MoEMethod.create_weights``: the Marlin backend (GPUs below
  compute capability 9.0, and where FlashInfer / triton_kernels are absent) pads I to a multiple
  of 128 and H to 256; uint8 blocks ``[E, 2I, H/2]``, uint8 scales ``[E, 2I, H/32]`` and bf16
  biases; the Triton backend pads I to 64.
- ``rotary_embedding/`` (sized in ``engines/rope_caches.py``): ``get_rope`` caches one ``cos_sin_cache`` buffer
  ``[max_position, rotary_dim]`` per distinct rope (YaRN: ``original_max_position × factor``
  positions), in the model dtype unless the model asks for float32 (gpt-oss). Llama 4's text layers
  (``llama4.py`` · ``Llama4Attention``) build theirs over all ``max_position_embeddings``: for
  Scout's 10,485,760 positions × 128 × 2 B that is 2.5 GiB on every GPU, which a public v0.12.0
  start on 8 × H200 shows ("Model loading took 27.8072 GiB"; 27.8042 predicted).

Each tensor is counted as PyTorch's CUDA caching allocator (c10 ``CUDACachingAllocator.cpp``)
books a fresh allocation: sizes round up to 512 B; a request of 10 MiB or more gets a segment
rounded up to 2 MiB, and the rest stays in the block (counted as allocated) unless it is over
1 MiB. That rule is what makes gpt-oss-20b's Marlin scales cost 18.9 MB more than their bytes.

With ``pp`` stages (``distributed/utils.py`` · ``get_pp_indices``: the remainder layers go to the
stages before the last) the first stage also holds the embeddings, the last the final norm and
lm_head, and each builds its own rope cache; the busiest stage is reported.

MLA (DeepSeek-V2/V3, Kimi-K2), read at v0.10.2 (``v1/attention/backends/mla/common.py``) and at
upstream 811d80519 (``layers/attention/mla_attention.py``), the same rule in both:
``process_weights_after_loading`` runs inside the load and keeps ``W_UK_T`` / ``W_UV`` as views of
``get_and_maybe_dequant_weights(kv_b_proj)``. An unquantized ``kv_b_proj`` in the model dtype is
returned as is (no copy); a quantized one (FP8 blocks, packed integers) is dequantized into a new
``[kv_lora_rank, heads/tp × (qk_nope + v_head)]`` tensor in the model dtype (``scaled_dequantize``,
or the layer applied to an identity matrix), which those views keep alive: one more tensor per
layer. ``deepseek_v2.py`` builds its rope over ``qk_rope_head_dim`` (``get_rope(qk_rope_head_dim,
...)``); with rope scaling it is ``DeepseekScalingRotaryEmbedding``, whose cache spans
``original_max_position_embeddings × factor`` positions in the model dtype (compiled runs:
``custom_ops`` 'none', so ``use_flashinfer`` is off and the float32 cache is cast).

DeepSeek sparse attention (V3.2, GLM-5): the indexer as each build holds it, its top-k buffer
and its rope (``engines/vllm_dsa.py``).

Gated DeltaNet layers (Qwen3-Next, Qwen3.5: ``layers/mamba/gdn/qwen_gdn_linear_attn.py`` at
811d80519) hold in_proj_qkvz and in_proj_ba column-parallel (Qwen3.5's in_proj_qkv / z / b / a are
loaded into them), conv1d, dt_bias and A_log split by TP, the gated norm and out_proj as a Linear;
v0.10.2 held the two projections as one ``in_proj`` (split by #25079, in v0.11.0), the same bytes.
A_log is float32 (at most a few hundred bytes per rank: the allocator's 512 B either way).

Nemotron-H and Granite 4.0-H (``nemotron_h.py``, ``granitemoehybrid.py``; tensors in
``model/shapes_nemotron_h.py``): Mamba-2's ``A`` is float32 (``mamba_mixer2.py``). MoE routers vLLM
keeps in float32 whatever the checkpoint (``fp32_router``): MiniMax-M2's and MiMo-V2-Flash's
always, Nemotron-H's as a ``ReplicatedLinear(params_dtype=float32)`` from MoE support (#25863,
2025-10-23) until #35121 (2026-02-26, v0.17) made it a ``GateLinear(force_fp32_compute=True)``,
float32 only off the GPUs with its bf16 kernels (CUDA compute capability 9.0 and 10.x).

Not modelled (refused with one line): bitsandbytes; models whose tensors are not listed fall back
to the checkpoint's share in ``vllm_startup``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..hf_config import normalize
from ..layer_pattern import DSA_TYPES
from ..model.quant import checkpoint, quant_method
from ..model.shape_parts import vision_config
from ..model.shapes import Param, config_int, param_shapes
from ..model.stored import MODEL_ST, ST_BITS, Checkpoint
from .rope_caches import dtype_name as _dtype, rope_caches
from .vllm_dsa import dsa_allocations
from ..model.sharding import sharded_params, stage_params, vllm_pp_stages

GiB = 1 << 30
MiB = 1 << 20
MERGED = {"q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj",
          "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj",
          "q_a_proj": "fused_qkv_a_proj", "kv_a_proj_with_mqa": "fused_qkv_a_proj",
          "in_proj_qkv": "in_proj_qkvz", "in_proj_z": "in_proj_qkvz",   # Qwen3.5's gated DeltaNet
          "in_proj_b": "in_proj_ba", "in_proj_a": "in_proj_ba"}
MXFP4_BACKENDS = ("marlin", "triton")


def allocated_bytes(size: int, max_split: int | None = None) -> int:
    """Bytes the CUDA caching allocator books for one fresh allocation of ``size`` bytes.
    ``max_split``: the allocator's ``max_split_size_mb`` in bytes; a block of that size or more is
    never split (``should_split``), so its whole 2 MiB-rounded segment is booked."""
    if size <= 0:
        return 0
    rounded = max(512, -(-size // 512) * 512)
    if rounded < 10 * MiB:
        return rounded  # small pool / 20 MiB segment: the block is split at the rounded size
    segment = -(-rounded // (2 * MiB)) * (2 * MiB)
    if max_split is not None and rounded >= max_split:
        return segment
    return segment if segment - rounded <= MiB else rounded


@dataclass(frozen=True, kw_only=True)
class VllmLoad:
    """One GPU's weights as vLLM allocates them."""

    tensors: tuple[tuple[str, int], ...]   # (name, bytes) per allocation, rope caches included
    weight_bytes: int                      # tensor bytes, before allocator rounding
    rope_bytes: int
    allocated: int                         # what vLLM's "Model loading took" measures

    @property
    def log_line(self) -> str:
        return f"Model loading took {round(self.allocated / GiB, 2):.2f} GiB memory"


def _module_key(name: str) -> tuple[str, str]:
    """(merged module, tensor suffix) of a checkpoint tensor name; experts merge per layer."""
    if "{e}." in name:  # model.layers.3.mlp.experts.{e}.gate_proj.weight -> w13 / w2
        head, tail = name.split("{e}.")
        module, _, suffix = tail.partition(".")
        return head + ("w2" if module in ("down_proj", "w2") else "w13"), suffix
    if ".experts.gate_up_proj" in name or ".experts.down_proj" in name:
        head, _, tail = name.rpartition(".experts.")
        return head + ".experts." + ("w13" if tail.startswith("gate_up") else "w2"), tail
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part in MERGED:
            return ".".join(parts[:i] + [MERGED[part]]), ".".join(parts[i + 1:])
    return name, ""


def _k_eq_v(cfg: dict, merged: dict[str, int], sizes: dict[str, int]) -> None:
    """Gemma 4's full layers with ``attention_k_eq_v`` ship no v_proj; vLLM's ``qkv_proj``
    still holds a V slot and loads the keys into it (``gemma4.py``), so it books k_proj twice.
    ``sizes``: the stage's checkpoint tensors, name → bytes."""
    if not cfg.get("attention_k_eq_v"):
        return
    for name, size in sizes.items():
        if name.endswith("self_attn.k_proj.weight") and \
                name.replace("k_proj", "v_proj") not in sizes:
            key = name.replace("k_proj.weight", "qkv_proj.weight")
            merged[key] = merged.get(key, 0) + size


def _vision_ropes(config: dict) -> list[tuple[str, int]]:
    """The rope caches a ViT builds next to the text model's. Qwen3.5's (``qwen3_vl.py`` ·
    ``Qwen3_VisionTransformer``): ``get_rope`` over 8,192 positions and half of each head, in the
    model dtype. Llama 4's (``mllama4.py`` · ``Llama4VisionAttention``, ``Llama4VisionRotaryEmbedding``):
    complex64, (image / patch)² + 1 positions × a quarter of each head."""
    vision = vision_config(config)
    mtype = config.get("model_type")
    if mtype in ("qwen3_5", "qwen3_5_moe"):
        hd = config_int(vision, "hidden_size", 1152) // config_int(vision, "num_heads", 16)
        item = ST_BITS[MODEL_ST[_dtype(normalize(config))]] // 8
        return [("visual.rotary_pos_emb.cos_sin_cache", 8192 * (hd // 2) * item)]
    if mtype == "llama4":
        hd = config_int(vision, "hidden_size", 768) // config_int(vision, "num_attention_heads", 16)
        patches = (config_int(vision, "image_size", 448) // config_int(vision, "patch_size", 14)) ** 2
        return [("vision_model.rotary_emb.cos_sin_cache", (patches + 1) * (hd // 4) * 8)]
    return []


def _mla_dequant(ck: Checkpoint) -> list[tuple[str, int]]:
    """The model-dtype copy of each quantized ``kv_b_proj`` that ``W_UK_T`` / ``W_UV`` view."""
    item = ST_BITS[MODEL_ST[ck.model_dtype]] // 8
    return [(f"{name}.dequantized", p.count * math.prod(p.shape) * item)
            for name, (p, dtypes) in ck.stored_dtypes("kv_b_proj.weight").items()
            if dtypes != {MODEL_ST[ck.model_dtype]}]


def _pad_mxfp4(params: list[Param], backend: str) -> list[Param]:
    """gpt-oss experts as ``Mxfp4MoEMethod.create_weights`` pads them for the backend."""
    if backend not in MXFP4_BACKENDS:
        raise ValueError(f"mxfp4-backend: {backend!r} is not one of {', '.join(MXFP4_BACKENDS)}")
    i_align, h_align = (128, 256) if backend == "marlin" else (64, 1)
    up = lambda n, a: -(-n // a) * a  # noqa: E731
    out = []
    for p in params:
        if p.part == "experts" and p.count > 1 and ".experts." in p.name:
            if p.name.endswith("gate_up_proj"):
                p = replace(p, shape=(up(p.shape[0] // 2, i_align) * 2, up(p.shape[1], h_align)))
            elif p.name.endswith("down_proj"):
                p = replace(p, shape=(up(p.shape[0], h_align), up(p.shape[1], i_align)))
            elif p.name.endswith("gate_up_proj_bias"):
                p = replace(p, shape=(up(p.shape[0] // 2, i_align) * 2,))
            elif p.name.endswith("down_proj_bias"):
                p = replace(p, shape=(up(p.shape[0], h_align),))
        out.append(p)
    return out


def fp32_router(mtype: str, cfg: dict, build: str, sm: int | None) -> bool:
    """Whether vLLM holds the MoE router weight (``*.gate.weight``) in float32.

    - MiniMax-M2 (``minimax_m2.py`` · ``MiniMaxM2MoE``): ``ReplicatedLinear(...,
      params_dtype=torch.float32)`` since its support (#27535, 2025-10-27).
    - MiMo-V2-Flash (``mimo_v2.py`` · ``MiMoV2MoE``): an ``nn.Linear`` in the config's
      ``moe_router_dtype``, float32 when unset (#30836, 2025-12-19).
    - Nemotron-H: always in the builds before #35121 ("0.10", "0.11"); after it unless the GPU is
      CUDA 9.0 or 10.x (``GateLinear``: ``is_device_capability((9, 0)) or
      is_device_capability_family(100)``). ``sm`` None (a size with no card named) is taken as
      such a GPU; 0 is ROCm."""
    if mtype == "minimax_m2":
        return True
    if mtype == "mimo_v2_flash":
        return str(cfg.get("moe_router_dtype") or "float32") in ("float32", "fp32")
    if mtype != "nemotron_h":
        return False
    if build in ("0.10", "0.11"):
        return True
    return sm is not None and not (sm == 90 or sm // 10 == 10)


def _float32(merged: dict[str, int], item: int, mamba: bool, router: bool) -> None:
    """Tensors vLLM allocates in float32 whatever the model dtype (each listed in that dtype):
    with ``mamba`` every Mamba-2 mixer's ``A``, with ``router`` the MoE routers' weights."""
    for key in merged:
        if (mamba and key.endswith(".A_log")) or (router and key.endswith(".gate.weight")):
            merged[key] = merged[key] // item * 4


def vllm_load(config: object, *, tp: int = 1, pp: int = 1, expert_parallel: bool = False,
              mxfp4_backend: str = "marlin", max_split_mb: int | None = None,
              build: str = "0.11", max_num_batched_tokens: int = 8192,
              language_model_only: bool = False, sm: int | None = None) -> VllmLoad:
    """One GPU's weights under vLLM with tensor parallel size ``tp``; with ``pp`` pipeline stages
    (vLLM's ``get_pp_indices`` split), the stage that allocates the most. ``max_split_mb``: the
    allocator's ``max_split_size_mb`` during the load (20 from vllm-project/vllm#41268, v0.21:
    ``gpu_worker.py`` · ``load_model`` under ``_scoped_allocator_max_split``, CUDA only).
    ``build`` and ``max_num_batched_tokens`` shape DeepSeek sparse attention's allocations
    (``vllm_dsa``); other models ignore them. ``language_model_only``: ``--language-model-only``
    (or every ``--limit-mm-per-prompt`` at 0): the vision tower and its projector are built as
    ``StageMissingLayer`` (``interfaces.py`` · ``_mark_tower_model``), so neither they nor the
    tower's rope are allocated. ``sm``: the GPU's compute capability × 10 (``fp32_router``)."""
    if not isinstance(config, dict):
        raise ValueError("config: expected a JSON object")
    if isinstance(tp, bool) or not isinstance(tp, int) or not 1 <= tp <= 1024:
        raise ValueError(f"tp: must be an integer between 1 and 1024, got {tp!r}")
    if isinstance(pp, bool) or not isinstance(pp, int) or not 1 <= pp <= 1024:
        raise ValueError(f"pp: must be an integer between 1 and 1024, got {pp!r}")
    cfg = normalize(config)
    mtype = str(cfg.get("model_type") or "")
    mla = cfg.get("kv_lora_rank") is not None
    dsa = mla and (cfg.get("index_topk") is not None or mtype in DSA_TYPES)
    params = param_shapes(config)
    if language_model_only:
        params = [p for p in params if p.part != "vision"]
    method = quant_method(config)
    if method == "bitsandbytes":
        raise ValueError("engine vllm: bitsandbytes loading is not modelled")
    ranked = sharded_params(config, tp, expert_parallel=expert_parallel, params=params)
    if method == "mxfp4":  # padding applies to the per-rank intermediate size
        ranked = _pad_mxfp4(ranked, mxfp4_backend)
    stages = [ranked]
    if pp > 1:
        stages = stage_params(ranked, vllm_pp_stages(config_int(cfg, "num_hidden_layers"), pp))
    ropes = rope_caches(cfg, mtype, mla)  # every stage builds its layers' rope
    vision_ropes = [] if language_model_only else _vision_ropes(config)  # the first stage
    split = None if max_split_mb is None else max_split_mb * MiB
    loads = []
    for i, stage in enumerate(stages):
        ck: Checkpoint = checkpoint(config, stage)
        merged: dict[str, int] = {}
        for t in ck.tensors:
            if method == "compressed-tensors" and t.name.endswith(("weight_scale", "input_scale")) \
                    and t.dtype in ("BF16", "F16"):
                # compressed_tensors_w8a8_fp8.py · create_weights: vLLM holds these in float32
                t = replace(t, dtype="F32")
            module, suffix = _module_key(t.name)
            key = f"{module}.{suffix}" if suffix else module
            merged[key] = merged.get(key, 0) + t.nbytes
        if mtype == "gemma4_text":
            _k_eq_v(cfg, merged, {t.name: t.nbytes for t in ck.tensors})
        mamba = mtype in ("nemotron_h", "granitemoehybrid")
        router = fp32_router(mtype, cfg, build, sm)
        if mamba or router:
            _float32(merged, ST_BITS[MODEL_ST[ck.model_dtype]] // 8, mamba, router)
        extra: list[tuple[str, int]] = []
        if dsa:
            merged, extra = dsa_allocations(cfg, merged, ropes[0][1], build=build,
                                            max_num_batched_tokens=max_num_batched_tokens,
                                            item=ST_BITS[MODEL_ST[ck.model_dtype]] // 8)
        extra += vision_ropes if i == 0 else []
        allocs = (tuple(merged.items()) + tuple(_mla_dequant(ck) if mla else ()) + tuple(ropes)
                  + tuple(extra))
        loads.append(VllmLoad(tensors=allocs, weight_bytes=ck.weight_bytes,
                              rope_bytes=sum(b for n, b in (*ropes, *extra)
                                             if n.endswith("cos_sin_cache")),
                              allocated=sum(allocated_bytes(b, split) for _, b in allocs)))
    return max(loads, key=lambda load: load.allocated)
