"""Capacity and Engines pages for a multimodal model under vLLM: the encoder pass the prediction
leaves out (an upper bound, flagged), --skip-mm-profiling, and --language-model-only (no tower,
no pass: an exact figure), in the link, the exports and the copied commands."""
import json
import shlex
import subprocess
import sys

from model_presets import load_preset
from tests.test_app_engines import GIB, ROOT, capacity, run


def test_capacity_vllm_warns_that_a_multimodal_encoder_pass_is_left_out(downloads):
    # Gemma 3 27B: vLLM profiles its vision encoder before the text forward; the page says the
    # KV memory is an upper bound until the user says vLLM runs with --skip-mm-profiling
    at, _ = capacity("gemma-3-27b", 8192, "vllm")
    assert [w.value for w in at.warning if "upper bound" in w.value] == [
        "vLLM's KV memory here is an upper bound: vLLM first profiles the multimodal encoder on "
        "its largest dummy images or videos and holds their embeddings through this forward; "
        "that pass is not modelled (GiB to tens of GiB for video), so the KV memory it prints "
        "can be lower; started with --skip-mm-profiling, vLLM skips it and this figure holds "
        "(with --language-model-only it also loads no vision tower)."]
    assert json.loads(downloads["capacity.json"])["engine_figures"]["mm_encoder_profile"] == \
        "not modelled"
    at.checkbox(key="c_skipmm").check().run()
    assert not at.exception and not [w for w in at.warning if "upper bound" in w.value]
    assert json.loads(downloads["capacity.json"])["engine_figures"]["mm_encoder_profile"] == \
        "skipped"
    serve, calc = at.code[-1].value.splitlines()
    assert serve.endswith("--max-model-len 8192 --skip-mm-profiling")
    assert calc.startswith("python -m calculator") and "--skip-mm-profiling" in calc
    # the link carries the choice
    at, _ = capacity("gemma-3-27b", 8192, "vllm", c_skipmm="true")
    assert at.checkbox(key="c_skipmm").value and not at.warning
    # a text model has no such box
    at, _ = capacity("llama-3.1-8b", 8192, "vllm")
    assert not [b for b in at.checkbox if b.key == "c_skipmm"]


def test_engines_page_warns_for_a_multimodal_vllm_prediction():
    at = run("engines", e_model="gemma-3-27b", e_src="gpu", e_gpu="H100 80GB", e_ctx=8192)
    assert not at.exception
    assert [w.value.split(":")[0] for w in at.warning if "upper bound" in w.value] == [
        "vLLM's KV memory here is an upper bound"]
    at = run("engines", e_model="llama-3.1-8b", e_src="gpu", e_gpu="H100 80GB", e_ctx=8192)
    assert not [w for w in at.warning if "upper bound" in w.value]


def test_capacity_vllm_language_model_only_drops_the_tower_and_its_pass(downloads):
    # Qwen3.5-35B-A3B served text only: no ViT loaded (893,784,064 B allocated less,
    # tests/test_vllm_weights.py) and no encoder pass, so no upper-bound warning
    at, _ = capacity("qwen3.5-35b-a3b", 32768, "vllm")
    full = json.loads(downloads["capacity.json"])["engine_figures"]
    at.checkbox(key="c_lmonly").check().run()
    assert not at.exception and not [w for w in at.warning if "upper bound" in w.value]
    text = json.loads(downloads["capacity.json"])["engine_figures"]
    assert (full["mm_encoder_profile"], text["mm_encoder_profile"]) == ("not modelled", "text only")
    assert full["weight_bytes_per_gpu"] - text["weight_bytes_per_gpu"] == 893_784_064
    assert text["kv_memory_bytes"] - full["kv_memory_bytes"] == 893_784_064
    serve, calc = at.code[-1].value.splitlines()
    assert serve.endswith("--max-model-len 32768 --language-model-only")
    assert "--language-model-only" in calc
    cli_row = json.loads(subprocess.run(
        [sys.executable, "-m", "calculator", *shlex.split(calc)[3:]], capture_output=True,
        text=True, check=True, cwd=ROOT).stdout)
    assert cli_row["kv_memory_bytes"] == text["kv_memory_bytes"]
    assert cli_row["mm_encoder_profile"] == "text only"
    # the link carries it; builds before the flag (0.10, 0.11) show no box
    at, _ = capacity("qwen3.5-35b-a3b", 32768, "vllm", c_lmonly="true")
    assert at.checkbox(key="c_lmonly").value and not at.warning
    at, _ = capacity("qwen3.5-35b-a3b", 32768, "vllm", c_vver="0.11")
    assert not [b for b in at.checkbox if b.key == "c_lmonly"]


def test_engines_page_takes_language_model_only_too():
    # the Engines page's vLLM row for a multimodal model served text only: no warning, the same
    # KV memory as the Capacity page and the CLI, and the flag in the CSV and the command
    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    at = run(e_model="qwen3.5-35b-a3b", e_src="gpu", e_gpu="H100 80GB", e_ctx=32768)
    assert [w for w in at.warning if "upper bound" in w.value]
    assert "--language-model-only" in " ".join(w.value for w in at.warning)
    at.checkbox(key="e_lmonly").check().run()
    assert not at.exception and not [w for w in at.warning if "upper bound" in w.value]
    start = predict(load_preset("qwen3.5-35b-a3b"), GPU_SPECS["H100 80GB"], mem_util="0.90",
                    language_model_only=True)
    table = at.dataframe[0].value
    vllm = table[table["engine"].str.startswith("vLLM")]
    assert vllm["KV memory"].tolist() == [f"{start.available / GIB:.2f} GiB"]
    assert any("--engine vllm" in x.value and "--language-model-only" in x.value for x in at.code)
    # the link carries it; a text model has no such box
    at = run(e_model="qwen3.5-35b-a3b", e_src="gpu", e_gpu="H100 80GB", e_ctx=32768,
             e_lmonly="true")
    assert at.checkbox(key="e_lmonly").value
    at = run(e_model="llama-3.1-8b", e_src="gpu", e_gpu="H100 80GB", e_ctx=32768)
    assert not [b for b in at.checkbox if b.key == "e_lmonly"]
