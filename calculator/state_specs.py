"""The fixed-size state of a recurrent layer (Mamba, NemotronH's and Granite 4's Mamba-2, LFM2's
short conv, Kimi Linear's KDA, gated DeltaNet, lightning attention) as a ``StateSpec``, each
shape as vLLM's ``MambaStateShapeCalculator`` (mamba_utils.py) builds it.
"""
from __future__ import annotations

from .config_fields import MAX_DIM
from .config_fields import int_field as _int
from .config_fields import opt_int_field as _opt_int
from .dtypes import model_dtype_name
from .specs import StateSpec


def state_spec(cfg: dict, kind: str, dtype: str, heads: int, head_dim: int) -> StateSpec:
    if kind == "mamba2":  # NemotronH: vLLM mamba2_state_shape; the ssm state in its own dtype
        nh = _int(cfg, "mamba_num_heads")
        hd = _int(cfg, "mamba_head_dim")
        d_state = _int(cfg, "ssm_state_size")
        groups = _int(cfg, "n_groups") if cfg.get("n_groups") is not None else (
            _int(cfg, "mamba_n_groups") if cfg.get("mamba_n_groups") is not None else 8)
        k = cfg.get("conv_kernel", cfg.get("mamba_d_conv", 4))
        k = _int({"conv_kernel": k}, "conv_kernel", lo=2, hi=1024)
        try:  # vLLM NemotronHForCausalLMConfig: the config's value, float32 when absent
            ssm = model_dtype_name(cfg.get("mamba_ssm_cache_dtype", "float32"))
        except ValueError as err:
            raise ValueError(f"mamba_ssm_cache_dtype: {str(err).split(': ', 1)[-1]}") from None
        return StateSpec(shapes=((nh * hd + 2 * groups * d_state, k - 1), (nh, hd, d_state)),
                         dtype=dtype, mechanism="mamba2", conv_kernel=k,
                         ssm_dtype=ssm)
    if kind == "conv":  # LFM2 short conv: vLLM short_conv_state_shape (hidden, conv_L_cache − 1)
        hidden = _int(cfg, "hidden_size")
        width = _int(cfg, "conv_L_cache", lo=2, hi=1024) if cfg.get("conv_L_cache") is not None else 3
        return StateSpec(shapes=((hidden, width - 1),), dtype=dtype, mechanism="short conv",
                         conv_kernel=width)
    if kind == "mamba" and cfg.get("mamba_n_heads") is not None:
        # Granite 4 hybrid (GraniteMoeHybridConfig): Mamba-2 with its own key names; vLLM
        # granitemoehybrid.py mamba2_state_shape, both states in the model dtype ("auto")
        hidden = _int(cfg, "hidden_size")
        inner = _int(cfg, "mamba_expand", hi=64) * hidden if cfg.get("mamba_expand") is not None \
            else 2 * hidden
        nh = _int(cfg, "mamba_n_heads")
        hd = cfg.get("mamba_d_head", "auto")
        hd = inner // nh if hd == "auto" else _int(cfg, "mamba_d_head")
        if nh * hd != inner:
            raise ValueError(f"mamba_n_heads: {nh} heads × mamba_d_head {hd} != mamba_expand × "
                             f"hidden_size {inner}")
        groups = _int(cfg, "mamba_n_groups") if cfg.get("mamba_n_groups") is not None else 1
        d_state = _int(cfg, "mamba_d_state") if cfg.get("mamba_d_state") is not None else 256
        k = _int(cfg, "mamba_d_conv", lo=2, hi=1024) if cfg.get("mamba_d_conv") is not None else 4
        return StateSpec(shapes=((inner + 2 * groups * d_state, k - 1), (nh, hd, d_state)),
                         dtype=dtype, mechanism="mamba2", conv_kernel=k)
    if kind == "mamba":  # Jamba / Mamba-1: conv (d_inner, d_conv-1) + ssm (d_inner, d_state)
        hidden = _int(cfg, "hidden_size")
        d_inner = _int(cfg, "mamba_expand", hi=64) * hidden
        d_conv = _int(cfg, "mamba_d_conv", lo=2, hi=1024)
        d_state = _int(cfg, "mamba_d_state", hi=MAX_DIM)
        return StateSpec(shapes=((d_inner, d_conv - 1), (d_inner, d_state)), dtype=dtype,
                         mechanism="mamba", conv_kernel=d_conv)
    if cfg.get("model_type") == "kimi_linear":
        # Kimi Delta Attention: q, k and v each through a short conv, then a (heads, d, d) state.
        # vLLM mamba_utils.py kda_state_shape / kda_state_dtype: convs in the model dtype, the
        # recurrent state in float32 (transformers keeps it in float32 too)
        lac = cfg.get("linear_attn_config") or {}
        nh = _int(lac, "num_heads") if lac.get("num_heads") is not None else (
            _opt_int(cfg, "linear_num_heads") or 32)
        hd = _int(lac, "head_dim") if lac.get("head_dim") is not None else (
            _opt_int(cfg, "linear_head_dim") or 128)
        k = lac.get("short_conv_kernel_size", cfg.get("linear_conv_kernel_dim", 4))
        k = _int({"short_conv_kernel_size": k}, "short_conv_kernel_size", lo=2, hi=1024)
        return StateSpec(shapes=((3 * nh * hd, k - 1), (nh, hd, hd)), dtype=dtype,
                         mechanism="KDA", conv_kernel=k, ssm_dtype="fp32")
    if cfg.get("linear_num_value_heads") is not None:  # Qwen3-Next gated DeltaNet
        kh = _int(cfg, "linear_num_key_heads")
        vh = _int(cfg, "linear_num_value_heads")
        kd = _int(cfg, "linear_key_head_dim")
        vd = _int(cfg, "linear_value_head_dim")
        k_conv = _int(cfg, "linear_conv_kernel_dim", lo=2, hi=1024)
        conv_dim = 2 * kh * kd + vh * vd
        # Qwen3.5's configs carry mamba_ssm_dtype "float32": its recurrent state is kept in fp32
        # (vllm-ascend#15408 and #7393 size vLLM's Qwen3.5 SSM pages in fp32; a public vLLM 0.19
        # Qwen3.5-27B log's 784-token attention block needs it). Qwen3-Next's has none: model dtype.
        try:
            ssm = (model_dtype_name(cfg["mamba_ssm_dtype"]) if cfg.get("mamba_ssm_dtype")
                   is not None else None)
        except ValueError as err:
            raise ValueError(f"mamba_ssm_dtype: {str(err).split(': ', 1)[-1]}") from None
        return StateSpec(shapes=((conv_dim, k_conv - 1), (vh, kd, vd)), dtype=dtype,
                         mechanism="gated DeltaNet", conv_kernel=k_conv, ssm_dtype=ssm)
    # Lightning / plain linear attention: one head_dim × head_dim state per head.
    return StateSpec(shapes=((heads, head_dim, head_dim),), dtype=dtype,
                     mechanism="linear attention")
