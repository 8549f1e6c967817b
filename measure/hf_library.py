"""An independent check: the cache that transformers itself allocates, not shapes we chose.

For a model's config.json, transformers' own config class reads the config (offline, no remote
code) and a *structural twin* of the model is built: every field that shapes the cache is kept
(layers, layer types, windows, KV heads, head dims, MLA latent, linear-attention dims, dtype),
everything else is made tiny (hidden size, MLP, experts, vocabulary; query heads = KV heads).
One real decode step runs with ``StaticCache(config, max_cache_len=context)`` and ``batch``
sequences on the chosen device, so transformers allocates its cache with real tensors. The
storage bytes of every tensor the cache holds are summed per layer group and compared with
``calculator.engines.static_cache_bytes`` (the calculator's transformers mode).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from calculator.engines import dynamic_cache_bytes, static_cache_bytes
from calculator.engines.transformers_cache import TRANSFORMERS_VERSION
from calculator.hf_config import cache_layer_indices, from_hf_config
from calculator.specs import ModelSpec
from model_presets.param_counts import DROP_KEYS, MODEL_TYPE_MAP  # remote-code configs, one place

TINY = 32
TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
# Fields that size only the weights: shrunk in the twin. The cache depends on none of them.
SHRINK = {"intermediate_size": TINY, "moe_intermediate_size": TINY,
          "shared_expert_intermediate_size": TINY, "vocab_size": 256, "num_local_experts": 2,
          "num_experts": 2, "n_routed_experts": 2, "num_experts_per_tok": 1, "experts_per_token": 1,
          "top_k_experts": 1, "vocab_size_per_layer_input": 256,
          "n_group": 1, "topk_group": 1, "q_lora_rank": None,
          "pad_token_id": None, "bos_token_id": None, "eos_token_id": None}


@dataclass(frozen=True, kw_only=True)
class LibraryRow:
    model: str
    group: str
    kind: str
    layers: int
    batch: int
    context: int
    expected_bytes: int
    measured_bytes: int
    library: str

    @property
    def match(self) -> bool:
        return self.expected_bytes == self.measured_bytes

    def as_dict(self) -> dict:
        return {**self.__dict__, "match": self.match}


def _attr(config, key: str):
    try:
        return getattr(config, key, None)
    except Exception:  # transformers' AmbiguousGlobalPerLayerAttributeError
        return None


def twin_config(config: dict):
    """transformers config of the structural twin (see module docstring)."""
    import transformers
    outer = copy.deepcopy(config)
    text = outer.get("text_config") or outer
    cfg = {k: v for k, v in text.items() if k not in DROP_KEYS}
    if "text_config" in outer:  # multimodal wrapper: the language model alone holds the cache
        cfg.setdefault("model_type", {"gemma3": "gemma3_text", "gemma4": "gemma4_text"}.get(outer.get("model_type"), ""))
        cfg.setdefault("torch_dtype", outer.get("torch_dtype"))
    model_type = MODEL_TYPE_MAP.get(cfg.get("model_type"), cfg.get("model_type"))
    real = transformers.AutoConfig.for_model(model_type, **{k: v for k, v in cfg.items() if k != "model_type"})
    heads = real.num_attention_heads
    # Gemma 4's per-layer config refuses a global read of a field its layers override: the
    # config's own (sliding-layer) value is the one the twin keeps; global_head_dim stays as is.
    kv = cfg.get("num_key_value_heads") or _attr(real, "num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or _attr(real, "head_dim") or real.hidden_size // heads
    for key, value in SHRINK.items():
        if key in cfg or getattr(real, key, None) is not None:
            cfg[key] = value
    if getattr(real, "index_topk", None) is not None:  # DSA: the indexer projects from q_lora
        cfg["q_lora_rank"] = TINY
    if "attn_type_list" in cfg and "layer_types" not in cfg:  # MiniMax: 1 softmax, 0 lightning
        cfg["layer_types"] = ["full_attention" if t == 1 else "linear_attention"
                              for t in cfg.pop("attn_type_list")]
    if model_type not in ("gpt2", "falcon"):  # these derive head_dim from hidden_size: keep it
        is_mla = getattr(real, "kv_lora_rank", None) is not None
        # lightning state is per query head: keep the query heads there
        q_heads = heads if model_type == "minimax" else (1 if is_mla else kv)
        if model_type == "mimo_v2_flash":  # its sliding layers have 2 × num_key_value_heads
            q_heads = 2 * kv
        # LFM2's short-conv state is hidden_size wide: keep the width there
        cfg.update(num_attention_heads=q_heads, head_dim=head_dim)
        if model_type != "lfm2":
            cfg["hidden_size"] = 64
        if is_mla:
            cfg["num_key_value_heads"] = 1

    if getattr(real, "mamba_expand", None) and model_type not in ("gpt2", "falcon"):
        d_inner = real.mamba_expand * real.hidden_size  # the state's width: keep it at hidden 64
        if d_inner % 64:
            raise ValueError(f"config: mamba d_inner {d_inner} is not a multiple of 64; no twin")
        cfg["mamba_expand"] = d_inner // 64
    derived = isinstance(getattr(type(real), "layer_types", None), property)  # Jamba: computed
    if "layer_types" not in cfg and not derived and getattr(real, "layer_types", None) is not None:
        cfg["layer_types"] = list(real.layer_types)  # what transformers derived from the real config
    cfg.pop("model_type", None)
    return transformers.AutoConfig.for_model(model_type, **cfg)


def _cache_tensors(cache) -> list[list[torch.Tensor]]:
    """Tensors held by each cache layer (keys, values, conv and recurrent states), any nesting."""
    out = []
    for layer in cache.layers:
        found: list[torch.Tensor] = []

        def walk(value):
            if isinstance(value, torch.Tensor):
                found.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)
        for value in vars(layer).values():  # private ones too: a counter is memory as well
            walk(value)
        out.append(found)
    for i, state in enumerate(getattr(cache, "linear_cache", [])):  # MiniMaxCache keeps its own
        if isinstance(state, torch.Tensor):
            out[i].append(state)
    return out


def storage_bytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the distinct storages these tensors keep alive: an empty slice of a big tensor
    (DeepSeek-V4's compressor buffers) still holds all of it."""
    seen, total = set(), 0
    for t in tensors:
        storage = t.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def _twin_model(config: dict, dtype: str, device: str):
    import transformers
    twin = twin_config(config)
    arch = (config.get("architectures") or [""])[0]
    cls = getattr(transformers, arch, None)
    if cls is None or "ConditionalGeneration" in arch or arch.startswith("RW"):
        cls = transformers.AutoModelForCausalLM._model_mapping[type(twin)]
    torch.manual_seed(0)
    with torch.device(device):
        return twin, cls(twin).to(TORCH_DTYPES[dtype]).eval()


def _rows(model: ModelSpec, expected, per_layer: list[int], *, name: str, batch: int,
          context: int, library: str, config: dict) -> list[LibraryRow]:
    # The model's layers are the blocks that hold a cache (NemotronH's MLP / MoE blocks are not
    # layers there); the total below still sums every block transformers built.
    cached = [per_layer[i] for i in cache_layer_indices(config)]
    rows = []
    for group, exp in zip(model.groups, expected.groups):
        rows.append(LibraryRow(model=name, group=exp.label, kind=exp.kind, layers=exp.layers,
                               batch=batch, context=context,
                               expected_bytes=exp.kv_bytes + exp.state_bytes,
                               measured_bytes=sum(cached[i] for i in group.layers),
                               library=library))
    rows.append(LibraryRow(model=name, group="total", kind="total", layers=model.num_layers,
                           batch=batch, context=context, expected_bytes=expected.total_bytes,
                           measured_bytes=sum(per_layer), library=library))
    return rows


def measure_generate(config: dict, *, name: str, prompt: int, new_tokens: int, batch: int,
                     device: str = "cpu") -> list[LibraryRow]:
    """``generate`` a few tokens greedily with the twin; measure the DynamicCache it leaves."""
    model: ModelSpec = from_hf_config(config, name=name)
    dtype = model.dtype if model.dtype in TORCH_DTYPES else "bf16"
    expected = dynamic_cache_bytes(model, prompt, new_tokens, batch, dtype)
    _, net = _twin_model(config, dtype, device)
    ids = torch.ones((batch, prompt), dtype=torch.long, device=device)  # token 1: not padding
    # use_mtp=False: MiniMax-M2.5's config says use_mtp, which would turn generate into assisted
    # decoding with MTP layers the twin does not have; the main model's cache is what is measured
    out = net.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, return_dict_in_generate=True,
                       pad_token_id=0, use_mtp=False)
    per_layer = [storage_bytes(ts) for ts in _cache_tensors(out.past_key_values)]
    return _rows(model, expected, per_layer, name=name, batch=batch,
                 context=prompt + new_tokens - 1,
                 library=f"transformers {TRANSFORMERS_VERSION} generate (DynamicCache)",
                 config=config)


def measure_library(config: dict, *, name: str, context: int, batch: int,
                    device: str = "cpu") -> list[LibraryRow]:
    """Run one step of the twin with a StaticCache; expected vs measured per layer group.
    DeepSeek-V4 has no StaticCache: its DynamicCache right after a ``context``-token prompt."""
    import transformers
    model: ModelSpec = from_hf_config(config, name=name)
    if model.has_compressed:
        return measure_generate(config, name=name, prompt=context, new_tokens=1, batch=batch,
                                device=device)
    dtype = model.dtype if model.dtype in TORCH_DTYPES else "bf16"
    expected = static_cache_bytes(model, context, batch, dtype)
    twin, net = _twin_model(config, dtype, device)
    with torch.device(device):
        cache = transformers.StaticCache(config=twin, max_cache_len=context)
        ids = torch.zeros((batch, 1), dtype=torch.long)
        with torch.no_grad():
            net(input_ids=ids, past_key_values=cache, use_cache=True)
    per_layer = [storage_bytes(ts) for ts in _cache_tensors(cache)]
    return _rows(model, expected, per_layer, name=name, batch=batch, context=context,
                 library=f"transformers {TRANSFORMERS_VERSION} StaticCache", config=config)
