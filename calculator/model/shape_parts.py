"""The building blocks of ``shapes.py``: one checkpoint tensor (``Param``), its roles and parts,
checked config integers and booleans, and the Linear / dense-MLP tensors every family is made of."""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

from ..config_fields import MAX_DIM

# Roles: how a tensor is stored under quantization and split under tensor parallelism.
#   embed / lm_head   vocabulary rows (vocab-parallel in engines; never quantized by weight-only
#                     formats unless the config says so)
#   linear            a Linear weight [out, in] inside a layer (quantized by every format)
#   expert            a routed expert's Linear weight [out, in], one per expert (count = experts)
#   router            the MoE router's Linear weight [experts, hidden] (left in 16 bits by every
#                     shipped format)
#   bias / norm / other   small tensors kept in the model dtype
ROLES = ("embed", "lm_head", "linear", "expert", "router", "bias", "norm", "other")
# Parts, for the breakdown a user sees.
PARTS = ("embeddings", "attention", "mlp", "experts", "vision", "other")


@dataclass(frozen=True, kw_only=True)
class Param:
    """One checkpoint tensor (or ``count`` identical ones: the routed experts of a layer)."""

    name: str                  # checkpoint name; experts carry '{e}' where the index goes
    shape: tuple[int, ...]     # Linear weights are [out_features, in_features]
    role: str
    part: str
    count: int = 1
    split: str = "rep"         # tensor-parallel split: col (dim 0), row (dim 1), vocab, rep, qkv
    dtype: str = ""            # a dtype the checkpoint always uses for this tensor ('' = model's)
    kv_heads: int = 0          # split 'qkv': this layer's KV heads where they differ (0 = config's)
    groups: tuple[int, ...] = ()  # split 'mamba': (n_groups, ssm_state_size) of a Mamba-2 mixer

    @property
    def numel(self) -> int:
        return prod(self.shape) * self.count


# transformers' config-class defaults for keys that shape parameters and that official configs
# leave out (configuration_*.py of transformers 5.23.0).
TIED_DEFAULT = {"gemma": True, "gemma2": True, "gemma3_text": True, "gpt2": True}
VOCAB_DEFAULT = {"gemma3_text": 262_208, "gpt2": 50_257}


def config_int(cfg: dict, key: str, default: Any = None, *, lo: int = 1, hi: int = MAX_DIM) -> int:
    value = cfg.get(key, default)
    if value is None:
        raise ValueError(f"{key}: missing from config (needed for the weights)")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{key}: must be an integer between {lo} and {hi}, got {value!r}")
    return value


def vision_config(config: dict) -> dict:
    """A multimodal config's ``vision_config`` (empty when absent); anything but an object is named."""
    vision = config.get("vision_config") or {}
    if not isinstance(vision, dict):
        raise ValueError("vision_config: expected a JSON object")
    return vision


def flag(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    return value


def linear(name: str, out_f: int, in_f: int, part: str, split: str, *, bias: bool = False,
            role: str = "linear") -> list[Param]:
    ps = [Param(name=f"{name}.weight", shape=(out_f, in_f), role=role, part=part, split=split)]
    if bias:  # a column-parallel bias is split with its rows; a row-parallel one is whole
        ps.append(Param(name=f"{name}.bias", shape=(out_f,), role="bias", part=part,
                        split="col" if split in ("col", "qkv") else "rep"))
    return ps


def dense_mlp(p: str, hidden: int, inter: int, part: str = "mlp") -> list[Param]:
    return (linear(p + "gate_proj", inter, hidden, part, "col")
            + linear(p + "up_proj", inter, hidden, part, "col")
            + linear(p + "down_proj", hidden, inter, part, "row"))


def final_norm_and_head(norm: str, vocab: int, hidden: int, tied: bool,
                        head: str = "lm_head.weight") -> list[Param]:
    """The decoder's closing tensors: the final norm ``norm``, and the lm_head unless ``tied``
    (vocabulary rows, split like the embedding)."""
    out = [Param(name=norm, shape=(hidden,), role="norm", part="other")]
    if not tied:
        out.append(Param(name=head, shape=(vocab, hidden), role="lm_head", part="embeddings",
                         split="vocab"))
    return out


def stacked_experts(router: str, up: str, down: str, experts: int, hidden: int,
                    inter: int) -> list[Param]:
    """A router [E, hidden] and routed experts stored stacked per layer: a fused gate/up of
    2·``inter`` rows and a down projection (vLLM's w13 / w2), listed per expert as [out, in]."""
    return [Param(name=router, shape=(experts, hidden), role="router", part="experts"),
            Param(name=up, shape=(2 * inter, hidden), role="expert", part="experts",
                  count=experts, split="col"),
            Param(name=down, shape=(hidden, inter), role="expert", part="experts", count=experts,
                  split="row")]

