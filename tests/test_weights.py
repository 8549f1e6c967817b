"""Weights from config.json alone: shapes against transformers, bytes of every shipped format by
hand, and vLLM's "Model loading took X GiB" reproduced from public logs."""
import re
from dataclasses import replace
from collections import defaultdict

import pytest

from calculator import plan
from calculator.capacity import weights_bytes, weights_per_gpu
from calculator.engines.vllm_weights import vllm_load
from calculator.load import model_from_config_text
from calculator.model.quant import checkpoint
from calculator.model.shapes import param_count, param_shapes
from calculator.model.weights import with_weights
from model_presets import (checkpoint_config, list_presets, load_preset, preset_checkpoints,
                           preset_document)
from model_presets.param_counts import checkpoint_tensors
from tests.weight_configs import TOY, make_config

GiB = 1 << 30


# Every preset's tensors are listed by calculator/model/shapes.py except DeepSeek-V4-Flash, priced
# by its checkpoint's published safetensors total (its FP4 + FP8 mix; tests/test_dsv4.py).
PUBLISHED_BYTES = {"deepseek-v4-flash"}


@pytest.mark.parametrize("name", sorted(set(list_presets()) - PUBLISHED_BYTES))
def test_parameter_count_equals_transformers_for_every_preset(name):
    # the stored counts are transformers' own on the meta device (tests/test_presets.py reruns it)
    assert param_count(param_shapes(checkpoint_config(name))) == preset_document(name)["param_count"]


def _unlisted(quantization: dict | None = None):
    """Granite-4.0-H-Tiny's model as if its architecture were one whose tensors are not listed
    (Falcon-H1's model_type), with its stated parameter count."""
    config = {**checkpoint_config("granite-4.0-h-tiny"), "model_type": "falcon_h1"}
    if quantization:
        config["quantization_config"] = quantization
    bare = replace(load_preset("granite-4.0-h-tiny"), weight_bytes=None, weights_from="")
    return with_weights(bare, config)


def test_unlisted_architecture_is_priced_as_count_times_bf16():
    # a bf16 checkpoint stores every tensor in bf16, so the count × 2 B is its size; with no shapes
    # known the 8 GPUs split it evenly (ceil(2 · 6,939,037,248 / 8) each), and engine startup can
    # use it
    model = _unlisted()
    count = 6_939_037_248
    assert model.param_count == count
    assert model.weight_bytes == 2 * count and model.weights_error == ""
    p = plan(model, gpu_bytes=80 * GiB, gpus=8)
    assert p.weights_bytes == 2 * count and p.weights_per_gpu == -(-2 * count // 8)
    assert p.weights_from.startswith(f"{count:,} parameters × bf16 (the checkpoint's dtype")


def test_unlisted_quantized_config_is_not_priced_as_bf16():
    # an FP8 checkpoint whose tensors are not listed cannot be sized from the count alone
    model = _unlisted({"quant_method": "fp8", "activation_scheme": "static"})
    assert model.weight_bytes is None and "not known from the config alone" in model.weights_error


def test_every_preset_but_the_published_total_has_its_tensors_listed():
    for name in list_presets():
        try:
            param_shapes(checkpoint_config(name))
            known = True
        except ValueError:
            known = False
        assert known != (name in PUBLISHED_BYTES), name


def _per_layer(named_sizes) -> dict[str, int]:
    """Elements per decoder layer (by index) and per top-level tensor outside the layers."""
    out: dict[str, int] = defaultdict(int)
    for name, size in named_sizes:
        m = re.search(r"layers\.(\d+)\.", name)
        out[f"layer {m.group(1)}" if m else name] += size
    return dict(out)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "qwen2.5-7b", "qwen3-8b", "mixtral-8x7b",
                                  "deepseek-v2-lite", "gpt-oss-20b", "qwen3-next-80b-a3b",
                                  "gemma-2-9b", "gemma-3-27b", "gpt2", "glm-5",
                                  "minimax-m2.5", "mimo-v2-flash", "lfm2-1.2b", "phi-4",
                                  "mistral-small-24b", "olmo-3-7b", "olmo-3-32b",
                                  "mistral-small-3.2-24b", "kimi-k2.5", "qwen3.5-27b",
                                  "qwen3.5-35b-a3b", "llama-4-scout", "llama-4-maverick",
                                  "gemma-4-26b-a4b"])
def test_shapes_match_transformers_layer_by_layer(name):
    config = checkpoint_config(name)
    ours = _per_layer((p.name, p.numel) for p in param_shapes(config))
    ref = _per_layer((n, t.numel()) for n, t in checkpoint_tensors(config).items())
    assert ours == ref


LINEAR = 2 * 589_824          # quantized by every format
REST_BF16 = (2 * 256_000 + 2 * 512 + 256) * 2  # embed, lm_head, norms in bf16 = 1,026,560


def test_toy_counts_and_bf16_bytes():
    # 2 · 256,000 + 2 · (589,824 + 512) + 256 = 1,692,928 parameters, 2 B each
    assert param_count(param_shapes(TOY)) == 1_692_928
    assert checkpoint(TOY).weight_bytes == 3_385_856
    assert REST_BF16 == 1_026_560


@pytest.mark.parametrize("qc, expected", [
    # AWQ GEMM int4 g128 (fp16 scales): qweight in·out/2 + qzeros in·out/256 + scales in·out/64
    # = 133/256 B per weight: 1,179,648 · 133 / 256 = 612,864
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"}, 612_864 + REST_BF16),
    # GPTQ int4 g128: the same three tensors + int32 g_idx per input column:
    # 2 layers · (6 · 256 + 512) inputs · 4 B = 16,384
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, 612_864 + 16_384 + REST_BF16),
    # fp8 128×128 blocks: 1 B per weight + F32 scales, per layer q 2·2, k 1·2, v 1·2, o 2·2,
    # gate 4·2, up 4·2, down 2·4 = 36 blocks · 4 B = 144
    ({"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]},
     LINEAR + 2 * 144 + REST_BF16),
    # modelopt NVFP4: 1/2 B per weight + one F8 scale per 16 + 2 F32 scalars per Linear:
    # 1,179,648 · 9/16 + 14 Linears · 8 B
    ({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16},
     1_179_648 * 9 // 16 + 14 * 8 + REST_BF16),
    # compressed-tensors FP8 per channel: 1 B per weight + a bf16 scale per output row
    # (256 + 128 + 128 + 256 + 512 + 512 + 256 = 2048 rows per layer)
    ({"quant_method": "compressed-tensors", "format": "float-quantized", "ignore": ["lm_head"],
      "config_groups": {"g": {"targets": ["Linear"], "weights": {
          "num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True}}}},
     LINEAR + 2 * 2048 * 2 + REST_BF16),
    # bitsandbytes 8-bit: int8 weight + F32 SCB per row + 1 B weight_format per Linear
    ({"quant_method": "bitsandbytes", "load_in_8bit": True},
     LINEAR + 2 * 2048 * 4 + 14 + REST_BF16),
])
def test_toy_bytes_in_every_format(qc, expected):
    assert checkpoint({**TOY, "quantization_config": qc}).weight_bytes == expected


def test_awq_keeps_its_fp16_dtype_and_skips_listed_modules():
    qc = {"quant_method": "awq", "bits": 4, "group_size": 128, "modules_to_not_convert": ["mlp"]}
    cfg = {**TOY, "torch_dtype": "float16", "quantization_config": qc}
    # attention quantized (per layer 4 Linears of 65,536 + 2 · 32,768 = 196,608 weights · 133/256),
    # the MLP left in fp16 (393,216 weights · 2 B per layer)
    assert checkpoint(cfg).weight_bytes == 2 * (196_608 * 133 // 256 + 393_216 * 2) + REST_BF16


@pytest.mark.parametrize("qc, needle", [
    ({"quant_method": "hqq"}, "'hqq' checkpoints cannot be priced"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "bitsandbytes 4-bit"),
    ({"quant_method": "awq", "version": "gemv_fast"}, "quantization_config.version"),
    ({"quant_method": "gptq", "bits": 5}, "quantization_config.bits"),
    ({"bits": 4}, "quantization_config.quant_method: missing"),
    ("awq", "quantization_config: expected a JSON object"),
])
def test_unpriceable_checkpoints_say_why_in_one_line(qc, needle):
    with pytest.raises(ValueError, match=re.escape(needle)) as err:
        checkpoint({**TOY, "quantization_config": qc})
    assert "\n" not in str(err.value)


def test_unpriceable_checkpoint_is_refused_by_capacity_never_priced_16_bit():
    import json
    text = json.dumps({**TOY, "quantization_config": {"quant_method": "hqq", "nbits": 4}})
    model = model_from_config_text(text)
    assert model.weight_bytes is None and "hqq" in model.weights_error
    with pytest.raises(ValueError, match="hqq"):
        plan(model, gpu_bytes=80 << 30)
    # an explicit weight dtype is the user's own statement: 1,692,928 · 4.25 bits = 899,368 B
    assert plan(model, gpu_bytes=80 << 30, weight_dtype="mxfp4").weights_bytes == 899_368


def test_weight_dtype_errors_name_the_weight_dtype():
    with pytest.raises(ValueError, match=r"^weight-dtype: unknown 'int3'"):
        weights_bytes(1000, "int3")
    # mxfp4: 32 values in 17 B; nvfp4: 16 values in 9 B
    assert weights_bytes(64, "mxfp4") == 34 and weights_bytes(64, "nvfp4") == 36


def test_presets_price_their_own_checkpoint_and_published_alternatives():
    m = load_preset("llama-3.1-8b")
    # 8,030,261,248 bf16 parameters
    assert m.weight_bytes == 16_060_522_496 and m.weights_from == "config.json (bf16 checkpoint)"
    assert dict(m.weight_parts)["embeddings"] == 2 * 128_256 * 4096 * 2
    assert preset_checkpoints("gpt-oss-20b") == ["mxfp4"]
    assert load_preset("gpt-oss-20b").weight_bytes == 13_761_264_768
    names = preset_checkpoints("llama-3.1-8b")
    assert names[0] == "bf16" and "FP8 dynamic" in names and "AWQ int4" in names
    fp8 = load_preset("llama-3.1-8b", checkpoint="FP8 dynamic")
    # 32 layers · 218,103,808 Linear weights at 1 B + bf16 row scales (6144 + 4096 + 28672 + 4096
    # rows per layer) + embed, lm_head, norms in bf16 (2 · 525,336,576 + 266,240 · 2 B)
    assert fp8.weight_bytes == 32 * (218_103_808 + 43_008 * 2) + 2 * 1_050_673_152 + 266_240 * 2
    with pytest.raises(ValueError, match="checkpoint: .* has no checkpoint 'int3'"):
        load_preset("llama-3.1-8b", checkpoint="int3")


HOSTILE_QC = [
    {"quant_method": "awq", "group_size": 0}, {"quant_method": "awq", "group_size": -5},
    {"quant_method": "gptq", "group_size": 0}, {"quant_method": "gptq", "group_size": True},
    {"quant_method": "fp8", "weight_block_size": [0, 128]},
    {"quant_method": "fp8", "weight_block_size": [128]}, {"quant_method": "fp8", "weight_block_size": "x"},
    {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 0},
    {"quant_method": "modelopt", "quant_algo": "W4A8"},
    {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"], "weights": {
        "num_bits": 4, "strategy": "group", "group_size": 0}, "format": "pack-quantized"}}},
    {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"], "weights": {
        "num_bits": 8, "strategy": "block", "block_structure": [0, 0]}}}},
    {"quant_method": "compressed-tensors", "config_groups": "x"},
    {"quant_method": "compressed-tensors", "config_groups": {"g": "x"}},
    {"quant_method": "compressed-tensors", "ignore": "lm_head", "config_groups": {}},
    {"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"]}}},
    {"quant_method": 7},
]


@pytest.mark.parametrize("qc", HOSTILE_QC)
def test_hostile_quantization_configs_are_one_line_errors(qc):
    with pytest.raises(ValueError) as err:
        checkpoint({**TOY, "quantization_config": qc})
    assert str(err.value).startswith("quantization_config") and "\n" not in str(err.value)


def test_junk_in_real_configs_is_a_one_line_value_error():
    """Real configs with 1–3 fields replaced by junk: pricing, sharding and vLLM's load either
    answer or raise one ValueError line, never another exception (bounded, seeded)."""
    import random
    from calculator.model.sharding import sharded_params
    junk = [None, 0, -1, 1, 2.5, "x", [], [1], {}, {"a": 1}, True, 1e30, 10**30, "", [0] * 3]
    rng = random.Random(17)
    names = list_presets()
    for _ in range(400):
        cfg = checkpoint_config(rng.choice(names))
        target = cfg["text_config"] if "text_config" in cfg else cfg
        keys = list(target) + ["quantization_config", "rope_scaling", "partial_rotary_factor",
                               "mlp_only_layers", "vision_config"]
        for _ in range(rng.randint(1, 3)):
            target[rng.choice(keys)] = rng.choice(junk)
        for call in (lambda: checkpoint(cfg), lambda: sharded_params(cfg, 2),
                     lambda: vllm_load(cfg, tp=rng.choice([1, 2, 8]))):
            try:
                call()
            except ValueError as exc:
                assert "\n" not in str(exc)


def test_pipeline_stages_hold_their_own_layers_and_ends():
    from calculator.capacity import weights_per_gpu
    m = load_preset("llama-3.1-8b")
    # layer = (q, o 4096·4096 + k, v 1024·4096 + gate, up, down 14336·4096 + 2 norms 4096) · 2 B
    layer = (2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096 + 2 * 4096) * 2
    assert layer == 436_224_000
    # PP 2: stage 0 = embed + layers 0–15, stage 1 = layers 16–31 + final norm + lm_head (busier)
    assert weights_per_gpu(m, 1, 2) == 16 * layer + 4096 * 2 + 128_256 * 4096 * 2 == 8_030_265_344
    assert plan(m, gpu_bytes=80 << 30, gpus=2, pp=2).weights_per_gpu == 8_030_265_344


# nvidia/Qwen3-32B-NVFP4's hf_quant_config.json, verbatim (github ai-dynamo/aiconfigurator
# src/aiconfigurator/model_configs/nvidia--Qwen3-32B-NVFP4_hf_quant_config.json @ f577ab84)
QWEN3_32B_NVFP4 = {"producer": {"name": "modelopt", "version": "0.33.0"},
                   "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8",
                                    "group_size": 16, "exclude_modules": ["lm_head"]}}


def test_modelopt_nvfp4_as_hf_quant_config_ships_it():
    cfg = make_config("qwen3", 5120, 25600, 64, 64, 8, 151_936, 40_960, hd=128,
               qc={"quant_method": "modelopt", **QWEN3_32B_NVFP4})
    # per layer 487,587,840 Linear weights (q, o 8192·5120; k, v 1024·5120; gate, up, down
    # 25600·5120) at 9/16 B (U8 pairs + an F8 scale per 16) + 7 Linears · 2 F32 scalars
    # + k_scale, v_scale (8 B) + norms (2 · 5120 + 2 · 128) · 2 B
    layer = 487_587_840 * 9 // 16 + 7 * 8 + 8 + (2 * 5120 + 2 * 128) * 2
    # + embed, lm_head 2 · 151,936 · 5120 · 2 B (lm_head excluded) + final norm 5120 · 2 B
    assert checkpoint(cfg).weight_bytes == 64 * layer + 2 * 151_936 * 5120 * 2 + 5120 * 2
    assert 64 * layer + 2 * 151_936 * 5120 * 2 + 5120 * 2 == 20_666_169_344


def test_phi3_fused_qkv_splits_like_qkv_parallel_linear():
    from calculator.model.sharding import sharded_params
    config = checkpoint_config("phi-4")  # 40 query heads, 10 KV heads, head_dim 128

    def qkv_rows(tp):
        return next(p.shape[0] for p in sharded_params(config, tp) if p.name.endswith("0.self_attn.qkv_proj.weight"))
    # TP 2: (40/2 query + 2 · 10/2 KV) heads · 128 = 3,840 rows; TP 20: (2 + 2 · 1 replicated) · 128
    assert (qkv_rows(1), qkv_rows(2), qkv_rows(20)) == (60 * 128, 3_840, 512)
    with pytest.raises(ValueError, match="tp: 4 and 10 KV heads"):
        sharded_params(config, 4)


def test_a_wrapper_whose_vision_tower_is_not_listed_is_priced_by_its_count():
    # LLaVA: a Llama text model the shapes list, a CLIP tower they do not; before, the weights
    # were the text model's alone (the tower silently missing)
    from calculator.model.shapes import UnknownArchitecture
    llava = {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
             "text_config": {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2,
                             "num_attention_heads": 32, "intermediate_size": 11008,
                             "vocab_size": 32000},
             "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024}}
    with pytest.raises(UnknownArchitecture, match=r"^vision_config: the vision tower of 'llava'"):
        param_shapes(llava)


def test_kimi_k25_int4_experts_and_bf16_tower_by_hand():
    # moonshotai/Kimi-K2.5: the routed experts ship as compressed-tensors int4 (group 32), the
    # MoonViT tower, its projector, attention, shared experts, layer 0's MLP and lm_head in bf16
    model = load_preset("kimi-k2.5")
    tower = 678_528 + 64 * 64 * 1152 + 27 * 15_239_504 + 2 * 1152  # patch conv, position grid,
    # 27 layers of (4 biased 1152² projections + fc1/fc2 1152↔4304 + 2 LayerNorms), final LayerNorm
    projector = 2 * 1152 + (4608 * 4608 + 4608) + (7168 * 4608 + 7168)
    assert (tower, projector) == (416_866_032, 54_277_888)
    assert model.param_count == 1_026_408_232_448 + tower + projector  # Kimi-K2 + the tower
    experts = 60 * 384 * 3 * 2048 * 7168                 # 1,014,686,023,680 int4 weights
    packed, scales, shapes = experts // 2, experts // 32 * 2, 60 * 384 * 3 * 2 * 8  # int32, bf16, int64
    bias = 60 * 384 * 4                                   # e_score_correction_bias, float32
    rest = (model.param_count - experts - 60 * 384) * 2   # everything else in bf16
    assert model.weight_bytes == packed + scales + shapes + bias + rest == 595_148_745_696
    assert model.quant_method == "compressed-tensors"
    # the Capacity page's checkpoint label reads the wrapper's text_config (it said "bf16")
    assert preset_checkpoints("kimi-k2.5") == ["compressed-tensors"]


def test_kimi_k25_tower_splits_over_tp_as_vllm_moonvit_does():
    # vLLM moonvit.py: wqkv QKVParallelLinear, wo RowParallelLinear, MLP2 fc0 Column / fc1 Row
    # (disable_tp only when the encoder runs data-parallel). Per layer the split tensors hold
    # 3 · (1152² + 1152) + 1152² + (4304 · 1152 + 4304) + 1152 · 4304 = 15,232,592 parameters
    split = 27 * 15_232_592 * 2                   # 822,559,968 B of the tower, split 8 ways
    replicated_tower_share = 77_125_987_296       # the TP-8 share with the whole tower on each GPU
    share = weights_per_gpu(load_preset("kimi-k2.5"), 8)
    assert share == replicated_tower_share - split * 7 // 8 == 76_406_247_324
    # a public vLLM run of Kimi-K2.6 (the same Kimi_K25 architecture, 554.30 GiB on disk) at
    # TP 8 logged "Model loading took 71.16 GiB" (find_string id 56962790649)
    assert f"{share / GiB:.2f}" == "71.16"


def test_gemma3_siglip_tower_splits_over_tp_as_vllm_siglip_does():
    # vLLM siglip.py (SiglipAttention qkv_proj QKVParallelLinear + out_proj Row, SiglipMLP fc1
    # Column / fc2 Row): per layer 3 · (1152² + 1152) + 1152² + (4304 · 1152 + 4304)
    # + 1152 · 4304 = 15,232,592 split parameters; the embeddings, LayerNorms and Gemma 3's
    # projector stay whole. bf16 checkpoint, 27 tower layers.
    model = load_preset("gemma-3-27b")
    split = 27 * 15_232_592 * 2                    # 822,559,968 B
    whole = weights_per_gpu(model, 1)
    assert whole == model.weight_bytes == 54_864_813_280
    # with the tower replicated the TP-2 share was 27,856,821,472 B; split, each GPU keeps half
    assert weights_per_gpu(model, 2) == 27_856_821_472 - split // 2 == 27_445_541_488


def test_mistral3_pixtral_tower_splits_over_tp_as_vllm_pixtral_does():
    # vLLM pixtral.py (PixtralHFAttention qkv_proj QKVParallelLinear + o_proj Row, PixtralHFMLP
    # gate_up Column / down Row) and mistral3.py (projector linear_1 Column, linear_2 Row; norm
    # and patch merger whole): per layer 3 · 1024² + 1024² + 3 · 4096 · 1024 = 16,777,216 over
    # 24 layers, plus 5120 · 1024 + 5120² = 31,457,280 in the projector, all bf16
    model = load_preset("mistral-small-3.2-24b")
    split = (24 * 16_777_216 + 31_457_280) * 2     # 868,220,928 B
    assert weights_per_gpu(model, 1) == model.weight_bytes == 48_022_722_560
    assert weights_per_gpu(model, 2) == 24_450_734_080 - split // 2 == 24_016_623_616
