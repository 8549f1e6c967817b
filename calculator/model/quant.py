"""Checkpoint bytes: how each shipped format stores a model's tensors, from ``quantization_config``.

``checkpoint(params, config)`` turns the logical tensors of ``shapes.param_shapes`` into the
tensors a checkpoint of that format holds (safetensors dtype and shape, scales and zero points
included) and sums their exact bytes. Only ``linear`` and ``expert`` weights are quantized, and
only where the format's own exclusion list does not name them; embeddings, lm_head, routers,
norms and biases stay in the model dtype. Each format follows its own source:

- ``fp8`` (transformers ``FineGrainedFP8Config``, DeepSeek-V3 / Qwen3-FP8): F8_E4M3 weight plus an
  F32 ``weight_scale_inv`` per ``weight_block_size`` block (transformers
  ``integrations/finegrained_fp8.py`` · ``FP8Linear``); static activations add an F32 ``input_scale``.
- ``compressed-tensors`` (llm-compressor): float/int-quantized, pack-quantized and nvfp4 schemes,
  per ``config_groups`` target (``compressed_tensors.py``).
- ``awq`` (AutoAWQ ``WQLinear_GEMM``): int32 ``qweight`` [in, out·bits/32], ``qzeros``
  [in/g, out·bits/32], ``scales`` [in/g, out] in the model dtype.
- ``gptq`` (AutoGPTQ / GPTQModel ``QuantLinear``): int32 ``qweight`` [in·bits/32, out], ``qzeros``
  [groups, out·bits/32], ``scales`` [groups, out], int32 ``g_idx`` [in]; lm_head only with
  ``lm_head: true``.
- ``mxfp4`` (gpt-oss, transformers ``integrations/mxfp4.py``): experts as U8 ``_blocks``
  [E, out, in/32, 16] and U8 e8m0 ``_scales`` [E, out, in/32].
- ``modelopt`` (TensorRT Model Optimizer, flat or as ``hf_quant_config.json``'s
  ``{"quantization": …}``): ``FP8`` F8 weight + F32 scalar ``weight_scale`` and ``input_scale``;
  ``NVFP4`` U8 [out, in/2] + F8 ``weight_scale`` [out, in/16] + F32 ``weight_scale_2`` and
  ``input_scale``; with ``kv_cache_quant_algo``, an F32 ``k_scale`` / ``v_scale`` per layer.
- ``bitsandbytes`` 8-bit (``Int8Params``): I8 weight + F32 ``SCB`` [out] + U8 ``weight_format``.

A format this module cannot price raises one ``ValueError`` naming the method, never a silent
16-bit guess.
"""
from __future__ import annotations

import fnmatch

from ..dtypes import model_dtype_name
from ..hf_config import normalize
from .compressed_tensors import _compressed, _ct_scheme
from .shapes import Param, param_count, param_shapes
from .stored import (MODEL_ST, Checkpoint, Stored, _cdiv, _group, _list, _module, _plain, _qint,
                     _quantizable, _t)

def _fp8(p: Param, qc: dict, model_st: str) -> list[Stored]:
    out, inn = p.shape
    block = qc.get("weight_block_size")
    ts = [_t(p, "weight", "F8_E4M3", (out, inn))]
    if block is not None:
        if (not isinstance(block, list) or len(block) != 2 or not all(
                isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 1 << 20 for b in block)):
            raise ValueError(f"quantization_config.weight_block_size: expected [rows, cols], got {block!r}")
        ts.append(_t(p, "weight_scale_inv", "F32", (_cdiv(out, block[0]), _cdiv(inn, block[1]))))
    else:
        ts.append(_t(p, "weight_scale", "F32", ()))
    if qc.get("activation_scheme") == "static":
        ts.append(_t(p, "input_scale", "F32", ()))
    return ts


def _awq(p: Param, qc: dict, model_st: str) -> list[Stored]:
    bits = _qint(qc, "bits", qc.get("w_bit", 4), allowed=(4,))
    group = _group(qc, "group_size", 128, alias="q_group_size")
    version = str(qc.get("version", "gemm")).lower()
    if version != "gemm":
        raise ValueError(f"quantization_config.version: AWQ {version!r} packing is not priced "
                         "(only 'gemm', what AutoAWQ ships by default)")
    out, inn = p.shape
    groups = 1 if group == -1 else _cdiv(inn, group)
    pack = 32 // bits
    return [_t(p, "qweight", "I32", (inn, out // pack)),
            _t(p, "qzeros", "I32", (groups, out // pack)),
            _t(p, "scales", model_st, (groups, out))]


def _gptq(p: Param, qc: dict, model_st: str) -> list[Stored]:
    bits = _qint(qc, "bits", 4, allowed=(2, 3, 4, 8))
    group = _group(qc, "group_size", 128)
    out, inn = p.shape
    groups = 1 if group == -1 else _cdiv(inn, group)
    return [_t(p, "qweight", "I32", (inn * bits // 32, out)),
            _t(p, "qzeros", "I32", (groups, out * bits // 32)),
            _t(p, "scales", model_st, (groups, out)),
            _t(p, "g_idx", "I32", (inn,))]


def _mxfp4(p: Param, qc: dict, model_st: str) -> list[Stored]:
    out, inn = p.shape
    if inn % 32:
        raise ValueError(f"quantization_config: MXFP4 needs in_features divisible by 32 ({p.name}: {inn})")
    return [Stored(name=f"{p.name}_blocks", dtype="U8", shape=(out, inn // 32, 16), count=p.count,
                   source=p),
            Stored(name=f"{p.name}_scales", dtype="U8", shape=(out, inn // 32), count=p.count,
                   source=p)]


def _modelopt(p: Param, qc: dict, model_st: str) -> list[Stored]:
    algo = str(qc.get("quant_algo", "")).upper()
    out, inn = p.shape
    # an FP8 KV cache stores one F32 k_scale / v_scale per attention layer on k_proj / v_proj
    kv = [] if not qc.get("kv_cache_quant_algo") else [
        _t(p, f"{proj[0]}_scale", "F32", ()) for proj in ("k_proj", "v_proj")
        if p.name.endswith(f".{proj}.weight")]
    if algo == "FP8":
        return [_t(p, "weight", "F8_E4M3", (out, inn)), _t(p, "weight_scale", "F32", ()),
                _t(p, "input_scale", "F32", ())] + kv
    if algo == "NVFP4":
        group = _group(qc, "group_size", 16)
        group = inn if group == -1 else group
        return [_t(p, "weight", "U8", (out, inn // 2)),
                _t(p, "weight_scale", "F8_E4M3", (out, _cdiv(inn, group))),
                _t(p, "weight_scale_2", "F32", ()), _t(p, "input_scale", "F32", ())] + kv
    raise ValueError(f"quantization_config.quant_algo: modelopt {algo or 'None'!r} is not priced "
                     "(FP8 and NVFP4 are)")


def _bnb(p: Param, qc: dict, model_st: str) -> list[Stored]:
    if qc.get("load_in_4bit"):
        raise ValueError("quantization_config: bitsandbytes 4-bit stores a JSON quant state per "
                         "tensor whose length depends on the weights' values; not priced from the "
                         "config (8-bit is)")
    out, inn = p.shape
    return [_t(p, "weight", "I8", (out, inn)), _t(p, "SCB", "F32", (out,)),
            _t(p, "weight_format", "U8", ())]


FORMATS = {"fp8": _fp8, "awq": _awq, "gptq": _gptq, "mxfp4": _mxfp4, "modelopt": _modelopt,
           "bitsandbytes": _bnb}


def quant_method(config: dict) -> str | None:
    """The checkpoint's quantization method, lower-cased (None for plain 16/32-bit weights)."""
    qc = config.get("quantization_config")
    if qc is None and isinstance(config.get("text_config"), dict):
        qc = config["text_config"].get("quantization_config")
    if qc is None:
        return None
    if not isinstance(qc, dict):
        raise ValueError("quantization_config: expected a JSON object")
    method = qc.get("quant_method")
    if not isinstance(method, str) or not method:
        raise ValueError("quantization_config.quant_method: missing")
    return method.lower().replace("_", "-") if method.lower() == "compressed_tensors" else method.lower()


def _excluded(p: Param, method: str, qc: dict) -> bool:
    module = _module(p)
    if method in ("fp8", "awq", "mxfp4", "bitsandbytes"):
        skip = (_list(qc, "modules_to_not_convert") + _list(qc, "llm_int8_skip_modules")
                + _list(qc, "ignored_layers"))
        # transformers / AutoAWQ match a listed name as a part of the module name or, with '*',
        # as a glob (gpt-oss lists "model.layers.*.self_attn").
        return any(fnmatch.fnmatchcase(module, s) or fnmatch.fnmatchcase(module, s + ".*")
                   or (("*" not in s) and (s == module or s in module.split(".")
                                           or module.startswith(s + ".")))
                   for s in skip)
    if method == "modelopt":
        skip = _list(qc, "exclude_modules") or _list(qc, "ignore")
        return any(fnmatch.fnmatchcase(module, s) or module.startswith(s.rstrip("*")) and "*" in s
                   or module == s for s in skip)
    return False


def checkpoint(config: object, params: list[Param] | None = None) -> Checkpoint:
    """The checkpoint a config.json describes: each tensor in its shipped format, exact bytes."""
    if not isinstance(config, dict):
        raise ValueError("config: expected a JSON object")
    params = param_shapes(config) if params is None else params
    dtype = model_dtype_name(normalize(config).get("torch_dtype"))
    if dtype not in MODEL_ST:
        raise ValueError(f"torch_dtype: weights in {dtype!r} are not a checkpoint dtype")
    model_st = MODEL_ST[dtype]
    method = quant_method(config)
    count = param_count(params)
    if method is None:
        tensors = [t for p in params for t in _plain(p, model_st)]
        return Checkpoint(format=dtype, param_count=count, tensors=tuple(tensors), model_dtype=dtype)
    qc = config.get("quantization_config") or config["text_config"]["quantization_config"]
    if method == "modelopt" and isinstance(qc.get("quantization"), dict):
        qc = {**qc, **qc["quantization"]}  # hf_quant_config.json's layout: {"quantization": {...}}
    if method == "gptq" and qc.get("checkpoint_format") not in (None, "gptq", "gptq_v2"):
        raise ValueError(f"quantization_config.checkpoint_format: GPTQ {qc.get('checkpoint_format')!r} "
                         "is not priced (gptq and gptq_v2 are)")
    if method not in FORMATS and method != "compressed-tensors":
        raise ValueError(f"quantization_config.quant_method: {method!r} checkpoints cannot be "
                         "priced from the config; give a parameter count and a weight dtype")
    tensors: list[Stored] = []
    for p in params:
        if method == "compressed-tensors":
            group = _ct_scheme(p, qc) if _quantizable(p) else None
            tensors += _plain(p, model_st) if group is None else _compressed(p, qc, model_st, group)
            continue
        quantize = _quantizable(p) and not _excluded(p, method, qc)
        if method == "gptq" and p.role == "lm_head" and qc.get("lm_head") is True:
            quantize = True
        tensors += FORMATS[method](p, qc, model_st) if quantize else _plain(p, model_st)
    return Checkpoint(format=format_label(method, qc), param_count=count, tensors=tuple(tensors),
                      model_dtype=dtype)


def format_label(method: str, qc: dict) -> str:
    """A short name for the checkpoint format, e.g. 'fp8 128×128 blocks', 'awq int4 g128'."""
    if method == "fp8":
        block = qc.get("weight_block_size")
        return f"fp8 {block[0]}×{block[1]} blocks" if block else "fp8 per-tensor"
    if method == "awq":
        return f"awq int{qc.get('bits', qc.get('w_bit', 4))} g{qc.get('group_size', qc.get('q_group_size', 128))}"
    if method == "gptq":
        return f"gptq int{qc.get('bits', 4)} g{qc.get('group_size', 128)}"
    if method == "modelopt":
        return f"modelopt {str(qc.get('quant_algo', '')).lower()}"
    if method == "bitsandbytes":
        return "bitsandbytes int8"
    if method == "compressed-tensors":
        return f"compressed-tensors {qc.get('format', '')}".strip()
    return method
