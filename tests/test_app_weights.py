"""The dashboard's weights: Capacity prices each published checkpoint by its real bytes, the
Custom model page shows the weights beside the cache, and an unpriceable checkpoint says why."""
import json

from tests.test_app_pages import ok, page

QWEN3_8B_FP8 = 9_437_399_040  # tests/test_hub.py: Qwen3-8B-FP8's safetensors total, by hand


def test_capacity_prices_the_chosen_published_checkpoint():
    at = page("capacity")
    for k, v in {"c_model": "qwen3-8b", "c_gpus": "1", "c_ckpt": "FP8", "c_ctx": "8192"}.items():
        at.query_params[k] = v
    ok(at.run())
    assert at.selectbox(key="c_ckpt").value == "FP8"
    assert at.selectbox(key="c_wdtype_ckpt").value == "checkpoint"
    labels = {m.label: m.value for m in at.metric}
    # 9,437,399,040 B = 8.79 GiB; free floor(85,030,076,416 · 0.9) − 9,437,399,040 =
    # 67,089,669,734 B // (8192 · 36 layers · 8 heads · 256 · 2 B = 1,207,959,552) = 55 sequences
    assert labels["Weights per GPU"] == "8.79 GiB"
    assert labels["Most concurrent sequences at 8,192 tokens"] == "55"
    assert any("fp8 128×128 blocks" in cap.value for cap in at.caption)
    at.selectbox(key="c_ckpt").set_value("AWQ int4")
    ok(at.run())
    assert {m.label: m.value for m in at.metric}["Weights per GPU"] != "8.79 GiB"
    assert at.query_params["c_ckpt"] == "AWQ int4"


def test_capacity_unknown_checkpoint_in_link_falls_back_to_the_models_own():
    at = page("capacity")
    at.query_params["c_model"] = "qwen3-8b"
    at.query_params["c_ckpt"] = "int3"
    ok(at.run())
    assert at.selectbox(key="c_ckpt").value == "bf16"


def test_custom_page_shows_the_weights_by_part():
    cfg = json.loads(open("model_presets/configs/llama-3.1-8b.json").read())
    at = ok(page("custom").run())
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    values = {m.label: m.value for m in at.metric}
    assert values["Parameters"] == "8,030,261,248" and values["Checkpoint"] == "14.96 GiB"
    parts = next(d.value for d in at.dataframe if "part" in d.value.columns)
    # embed + lm_head: 2 · 128,256 · 4096 · 2 B
    assert parts.set_index("part").loc["embeddings", "bytes"] == f"{2 * 128_256 * 4096 * 2:,}"


def test_unpriceable_checkpoint_is_explained_not_priced_16_bit():
    cfg = {**json.loads(open("model_presets/configs/llama-3.1-8b.json").read()),
           "quantization_config": {"quant_method": "hqq", "nbits": 4}}
    at = ok(page("custom").run())
    at.text_input(key="j_name").set_value("hqq-llama")
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    assert any("'hqq' checkpoints cannot be priced" in w.value.replace("\\", "") for w in at.warning)
    models = at.session_state["custom_models"]
    cap = page("capacity")
    cap.session_state["custom_models"] = models
    cap.query_params["c_model"] = "custom:hqq-llama"
    cap.query_params["c_gpus"] = "1"
    ok(cap.run())
    assert any("hqq" in e.value for e in cap.error)
    assert not any(m.label == "Weights per GPU" for m in cap.metric)


def test_an_older_link_keeps_its_weight_dtype():
    at = page("capacity")
    for k, v in {"c_model": "llama-3.1-70b", "c_gpus": "2", "c_tp": "2", "c_kvdtype": "fp8_e4m3",
                 "c_batch": "8", "c_wdtype": "bf16"}.items():
        at.query_params[k] = v
    ok(at.run())
    assert at.selectbox(key="c_wdtype_ckpt").value == "bf16"
    # 70,553,706,496 · 2 B / 2 GPUs = 70,553,706,496 B; free floor(85,030,076,416 · 0.9) − that =
    # 5,973,362,278 B / (80 layers · 4 heads · 256 · 1 B · 8 seqs) = 9,114 tokens
    assert any(m.value == "9,114 tokens" for m in at.metric)


def test_two_pasted_configs_of_one_architecture_are_both_kept():
    at = ok(page("custom").run())
    for layers in (2, 4):  # both name themselves MistralForCausalLM
        cfg = {"architectures": ["MistralForCausalLM"], "model_type": "mistral",
               "num_hidden_layers": layers, "num_attention_heads": 4, "hidden_size": 64}
        at.text_area(key="j_text").set_value(json.dumps(cfg))
        at.button(key="j_go").click()
        ok(at.run())
    kept = at.session_state["custom_models"]
    assert sorted(kept) == ["MistralForCausalLM", "MistralForCausalLM (2)"]
    assert kept["MistralForCausalLM (2)"].num_layers == 4
    assert any("MistralForCausalLM (2)" in i.value for i in at.info)
