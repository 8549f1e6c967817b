"""The Capacity and Engines pages' startup figures: what they show, export and copy as a command
equal what the library and the CLI predict (the predictions themselves: ``test_startup.py``)."""
import json
from pathlib import Path

import pytest

from tests.test_startup import cli

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


def page(name: str, params: dict):
    """Run ``views/<name>.py`` opened from a link carrying ``params``."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def test_engines_page_predicts_per_engine_and_keeps_old_links():
    # the vLLM 0.11 log on an H100: 51.38 GiB, 26.3x
    at = page("engines", {"e_model": "llama-3.1-8b", "e_ctx": "16000", "e_vver": "0.11"})
    assert not at.exception and at.radio(key="e_src").value == "gpu"
    table = at.dataframe[0].value.set_index("engine")
    vllm = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    assert vllm["KV memory"] == "51.43 GiB" and vllm["requests that fit"] == "26.33x"
    assert len(at.get("plotly_chart")) == 2   # the vLLM and SGLang startup bars
    assert any("Available KV cache memory: 51.43 GiB" in c.value for c in at.code)
    # a link from before (e_mem) still means one figure for every engine
    old = page("engines", {"e_model": "llama-3.1-8b", "e_ctx": "16000", "e_mem": "40"})
    assert old.radio(key="e_src").value == "given" and "KV memory" not in old.dataframe[0].value


def test_capacity_headline_says_theoretical_when_an_engine_is_picked():
    at = page("capacity", {"c_model": "llama-3.1-8b", "c_gpus": "1", "c_ctx": "16000", "c_engine": "vllm",
                 "c_vver": "0.11"})
    labels = {m.label: m.value for m in at.metric}
    assert labels["Most concurrent sequences at 16,000 tokens (theoretical)"] == "28"
    assert labels["Available KV cache memory"] == "51.43 GiB"
    assert labels["Max concurrency at 16,000 tokens"] == "26.33x"


def test_engines_export_carries_each_engines_memory(downloads):
    import io

    import pandas as pd
    files = downloads  # filled by the page's download button as it runs
    assert not page("engines", {"e_model": "llama-3.1-8b", "e_ctx": "16000",
                                "e_vver": "0.11"}).exception
    csv = pd.read_csv(io.StringIO(files["engines_side_by_side.csv"])).set_index("engine")
    vllm = csv.loc[[e for e in csv.index if e.startswith("vLLM")][0]]
    assert vllm["KV memory (bytes/GPU)"] == 55_218_821_857 and vllm["gpu"] == "H100 80GB"
    assert "Available KV cache memory: 51.43 GiB" in vllm["engine prints"]
    # the others get utilization × the GPU − the weights: floor(85,030,076,416 · 0.9) − 16,060,522,496
    theo = csv.loc["theoretical (bf16)"]
    assert theo["KV memory (bytes/GPU)"] == 76_527_068_774 - 16_060_522_496


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_copied_command_prints_the_pages_numbers(engine):
    import shlex

    at = page("capacity", {"c_model": "qwen3-8b", "c_ckpt": "FP8", "c_gpus": "2", "c_tp": "2",
                 "c_ctx": "32768", "c_engine": engine})
    assert not at.exception
    lines = at.code[-1].value.splitlines()
    assert lines[0].startswith("vllm serve Qwen/Qwen3-8B-FP8 --tensor-parallel-size 2"
                               if engine == "vllm" else
                               "python -m sglang.launch_server --model-path Qwen/Qwen3-8B-FP8 --tp 2")
    words = shlex.split(lines[1])
    assert words[:3] == ["python", "-m", "calculator"]
    row = json.loads(cli(*words[3:]).stdout)
    metrics = {m.label: m.value for m in at.metric}
    if engine == "vllm":
        assert f"{row['kv_memory_bytes'] / GIB:.2f} GiB" == metrics["Available KV cache memory"]
        assert f"{row['num_blocks']:,}" == metrics["GPU blocks"]
    else:
        assert f"{row['engine_tokens']:,}" == metrics["#tokens (max_total_num_tokens)"]


def test_capacity_export_is_the_page(downloads):
    at = page("capacity", {"c_model": "llama-3.1-8b", "c_gpus": "1", "c_ctx": "16000", "c_engine": "vllm",
                 "c_vver": "0.11"})
    assert not at.exception
    data = json.loads(downloads["capacity.json"])
    metrics = {m.label: m.value for m in at.metric}
    assert data["engine"] == "vllm" and data["gpu_bytes"] == 85_030_076_416
    assert data["engine_figures"]["kv_memory_bytes"] == 55_218_821_857
    assert f"{data['engine_figures']['max_concurrency']:.2f}x" == metrics["Max concurrency at 16,000 tokens"]
    assert str(data["theoretical"]["max_batch"]) == metrics["Most concurrent sequences at 16,000 tokens (theoretical)"]
    assert data["engine_figures"]["log"][1] == "Available KV cache memory: 51.43 GiB"


def test_engines_copy_as_command_prints_the_rows():
    import shlex

    at = page("engines", {"e_model": "llama-3.1-8b", "e_ctx": "16000", "e_mnbt": "4096"})
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    lines = [c.value for c in at.code if "python -m calculator" in c.value][0].splitlines()
    vllm = json.loads(cli(*shlex.split(lines[0])[3:]).stdout)
    sglang = json.loads(cli(*shlex.split(lines[1])[3:]).stdout)
    row = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    assert f"{vllm['max_concurrency']:.2f}x" == row["requests that fit"]
    assert f"{vllm['kv_memory_bytes'] / GIB:.2f} GiB" == row["KV memory"]
    assert vllm["usage_defaults"]["max_num_batched_tokens"] == 4096
    sg = table.loc[[e for e in table.index if e.startswith("SGLang")][0]]
    assert sg["requests that fit"].startswith(f"{sglang['max_concurrency']:.2f}x")


def test_capacity_mla_on_hopper_uses_vllms_forced_block_and_the_command_agrees():
    import shlex

    # v0.17: forced while the config is built (FlashMLA's 64 on Hopper)
    at = page("capacity", {"c_model": "deepseek-v2-lite", "c_gpus": "1", "c_ctx": "32768",
                 "c_engine": "vllm", "c_gpu": "H100 80GB", "c_vver": "0.17"})
    assert not at.exception
    assert any("vLLM uses block 64, not the 16 chosen" in x.value for x in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    tokens = int(metrics["KV cache size (tokens)"].replace(",", ""))
    assert tokens % 64 == 0
    words = shlex.split(at.code[-1].value.splitlines()[1])
    row = json.loads(cli(*words[3:]).stdout)
    assert row["block_size"] == 64 and row["engine_tokens"] == tokens


def test_capacity_mla_on_blackwell_takes_the_backends_block_in_the_default_build():
    import shlex

    # from v0.18 (the default build) FLASHINFER_MLA's smallest kernel block, 32, on a B200
    at = page("capacity", {"c_model": "deepseek-v2-lite", "c_gpus": "1", "c_ctx": "32768",
                 "c_engine": "vllm", "c_gpu": "B200 180GB"})
    assert not at.exception
    assert any("vLLM uses block 32, not the 16 chosen" in x.value
               and "FLASHINFER_MLA" in x.value for x in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    tokens = int(metrics["KV cache size (tokens)"].replace(",", ""))
    code = at.code[-1].value.splitlines()
    assert "--engine-version" not in code[1]
    row = json.loads(cli(*shlex.split(code[1])[3:]).stdout)
    assert row["block_size"] == 32 and row["engine_tokens"] == tokens and tokens % 32 == 0


def test_capacity_vllm_022_takes_the_cuda_graph_estimate_from_the_page():
    import shlex

    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    from model_presets import load_preset
    base = {"c_model": "llama-3.1-8b", "c_gpus": "1", "c_ctx": "16000", "c_engine": "vllm",
            "c_vver": "0.22"}
    at = page("capacity", base)
    assert not at.exception
    # no estimate given: the figure is labelled an upper bound and a warning says why
    free = predict(load_preset("llama-3.1-8b"), GPU_SPECS["H100 80GB"], version="0.22",
                   mem_util="0.90")  # the page's utilization slider, not vLLM 0.22's own 0.92
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Available KV cache memory"] == f"≤ {free.available / GIB:.2f} GiB"
    assert any("CUDA-graph estimate" in w.value for w in at.warning)
    # the link carries the estimate: 0.37 GiB comes off the pool, nothing is flagged
    given = page("capacity", {**base, "c_vcg": "0.37"})
    assert not given.exception
    metrics = {m.label: m.value for m in given.metric}
    want = free.available - int(0.37 * GIB)
    assert metrics["Available KV cache memory"] == f"{want / GIB:.2f} GiB"
    assert not any("CUDA-graph estimate" in w.value for w in given.warning)
    line = given.code[-1].value.splitlines()[1]
    assert "--cudagraph-memory" in line and "--engine-version 0.22" in line
    row = json.loads(cli(*shlex.split(line)[3:]).stdout)
    assert row["kv_memory_bytes"] == want and row["cudagraph_bytes"] == int(0.37 * GIB)


def test_engines_page_notes_v022s_missing_estimate():
    at = page("engines", {"e_model": "llama-3.1-8b", "e_ctx": "16000", "e_vver": "0.22"})
    assert not at.exception
    text = " ".join(str(x.value) for x in [*at.caption, *at.warning, *at.markdown, *at.info])
    assert "upper bound" in text and "CUDA-graph estimate" in text


def test_engines_page_takes_v022s_graph_estimate_and_prefix_caching():
    """The Engines page takes what the Capacity page takes for vLLM 0.20 – 0.22: the logged
    CUDA-graph estimate (then the pool is no upper bound) and --enable-prefix-caching for a
    hybrid model; the table, the export and the copied command agree with the CLI."""
    import shlex

    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    from model_presets import load_preset
    base = {"e_model": "qwen3.5-35b-a3b", "e_ctx": "8192", "e_vver": "0.20", "e_kvdtype": "fp8"}
    at = page("engines", {**base, "e_vcg": "0.45", "e_vpc": "true"})
    assert not at.exception and at.checkbox(key="e_vpc").value is True
    assert at.number_input(key="e_vcg").value == 0.45
    table = at.dataframe[0].value.set_index("engine")
    row = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    # util 0.90 of the H100's 85,030,076,416 B, less weights, activation, non-torch and the
    # 0.45 GiB estimate: the library's own figure
    want = predict(load_preset("qwen3.5-35b-a3b"), GPU_SPECS["H100 80GB"], version="0.20",
                   mem_util="0.90", cudagraph=int(0.45 * GIB)).available
    assert row["KV memory"] == f"{want / GIB:.2f} GiB"
    # still an upper bound, by the vision encoder's profiling pass (Qwen3.5 is multimodal), but
    # no longer by the CUDA-graph estimate
    assert row["status"] == "upper bound (below)"
    assert not any("CUDA-graph estimate" in w.value for w in at.warning)
    assert any("multimodal encoder" in w.value for w in at.warning)
    assert any(c.value.startswith("Mamba cache mode is set to 'align'") for c in at.code)
    line = [c.value for c in at.code if "python -m calculator" in c.value][0].splitlines()[0]
    assert "--enable-prefix-caching" in line and "--cudagraph-memory 0.45GiB" in line
    got = json.loads(cli(*shlex.split(line)[3:]).stdout)
    assert got["kv_memory_bytes"] == want and f"{got['max_concurrency']:.2f}x" == row[
        "requests that fit"]
    # without them: the upper bound, one state page per request (more requests fit)
    plain = page("engines", base)
    prow = plain.dataframe[0].value.set_index("engine")
    prow = prow.loc[[e for e in prow.index if e.startswith("vLLM")][0]]
    assert prow["status"] == "upper bound (below)"
    assert any("CUDA-graph estimate" in w.value for w in plain.warning)
    assert float(prow["requests that fit"].rstrip("x")) > float(row["requests that fit"].rstrip("x"))


def test_capacity_hybrid_prefix_caching_checkbox_and_its_link():
    # Qwen3.5-35B-A3B on one H100, vLLM v0.20, fp8 KV, 0.45 GiB graph estimate: with
    # --enable-prefix-caching each of the 3 state groups keeps 2 pages per request (align mode)
    base = {"c_model": "qwen3.5-35b-a3b", "c_gpus": "1", "c_ctx": "8192", "c_engine": "vllm",
            "c_gpu": "H100 80GB", "c_vver": "0.20", "c_vcg": "0.45", "c_kvdtype": "fp8"}
    off, on = page("capacity", base), page("capacity", {**base, "c_vpc": "true"})
    assert not off.exception and not on.exception
    assert off.checkbox(key="c_vpc").value is False and on.checkbox(key="c_vpc").value is True
    log_on = next(c.value for c in on.code if "Available KV cache memory" in c.value)
    log_off = next(c.value for c in off.code if "Available KV cache memory" in c.value)
    assert log_on.startswith("Mamba cache mode is set to 'align' for "
                             "Qwen3_5MoeForConditionalGeneration")
    assert "Mamba cache mode" not in log_off
    # the same blocks, fewer requests: cdiv(8192, 2096) = 4 attention pages + 3 or 6 state pages
    def metric(at, label):
        return next(m.value for m in at.metric if m.label.startswith(label))
    blocks = int(metric(on, "GPU blocks").replace(",", ""))
    assert blocks == int(metric(off, "GPU blocks").replace(",", ""))
    assert metric(on, "Max concurrency") == f"{blocks / 10:.2f}x"
    assert metric(off, "Max concurrency") == f"{blocks / 7:.2f}x"
    assert any("--enable-prefix-caching" in c.value for c in on.code)


def test_sglang_flag_lines_come_first_on_the_pages_as_in_the_cli():
    # server_args logs its flag changes before loading: the Capacity page's log, the Engines
    # page's row and the CLI's --format log print the same lines in the same order
    base = ("--preset", "deepseek-v3", "--engine", "sglang", "--gpu", "B200", "--tp", "8",
            "--context", "32768")
    want = cli(*base, "--format", "log").stdout.strip().splitlines()
    assert want[0] == "Use trtllm_mla as attention backend on sm100 for DeepseekV3ForCausalLM"
    cap = page("capacity", {"c_model": "deepseek-v3", "c_gpus": "8", "c_tp": "8", "c_ctx": "32768",
                            "c_engine": "sglang", "c_gpu": "B200 180GB"})
    assert not cap.exception
    assert next(c.value for c in cap.code if "KV Cache is allocated" in c.value).splitlines() == want
    eng = page("engines", {"e_model": "deepseek-v3", "e_ctx": "32768", "e_tp": "8",
                           "e_gpu": "B200 180GB"})
    assert not eng.exception
    printed = [c.value for c in eng.code if "KV Cache is allocated" in c.value]
    assert printed and printed[0].splitlines() == want
