"""A real local HTTP server that answers the Hugging Face Hub endpoints ``huggingface_hub`` calls.

Clients reach it through ``HF_ENDPOINT``; nothing in the client library is patched. It serves
``HEAD``/``GET /{org}/{name}/resolve/{revision}/{file}`` with the Hub's headers (``X-Repo-Commit``,
``ETag``, ``X-Error-Code``) and HTTP range requests, which is all that ``hf_hub_download``,
``file_exists`` and ``parse_safetensors_file_metadata`` use.

Fixtures are real: config.json files as published (``model_presets/configs``) and header-only
safetensors files whose tensor names, shapes and dtypes are those of the real checkpoints, built
from the model class transformers defines for the config (on the meta device; gpt-oss experts
re-shaped into the MXFP4 blocks and scales the checkpoint stores; Qwen3-8B-FP8's decoder Linears
as F8 with 128×128 F32 block scales; Qwen2.5-7B-Instruct-AWQ's as AutoAWQ GEMM int32 packs).
"""
from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "model_presets" / "configs"
TOKEN = "hf_local_test_token"
BITS = {"BF16": 16, "F32": 32, "F16": 16, "U8": 8, "I32": 32, "F8_E4M3": 8}


def meta_tensors(config: dict) -> dict[str, tuple[str, list[int]]]:
    """{tensor name: (safetensors dtype, shape)} of the config's model class, as a checkpoint saves it."""
    from model_presets.param_counts import checkpoint_tensors
    return {name: ("BF16", list(t.shape)) for name, t in checkpoint_tensors(config).items()}


def mxfp4_experts(tensors: dict[str, tuple[str, list[int]]]) -> dict[str, tuple[str, list[int]]]:
    """gpt-oss checkpoints store expert matrices [E, in, out] as MXFP4: U8 blocks [E, out, in/32, 16]
    (32 4-bit values per 16 bytes) and U8 scales [E, out, in/32] (one e8m0 exponent per block)."""
    out = {}
    for name, (dtype, shape) in tensors.items():
        if name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            e, d_in, d_out = shape
            out[f"{name}_blocks"] = ("U8", [e, d_out, d_in // 32, 16])
            out[f"{name}_scales"] = ("U8", [e, d_out, d_in // 32])
        else:
            out[name] = (dtype, shape)
    return out


def _decoder_linear(name: str) -> bool:
    """A Linear weight inside a decoder layer: what weight-only formats quantize."""
    return name.startswith("model.layers.") and name.endswith("_proj.weight")


def fp8_block_linears(tensors: dict[str, tuple[str, list[int]]],
                      block: int = 128) -> dict[str, tuple[str, list[int]]]:
    """Qwen3-FP8 / DeepSeek-V3 style checkpoints (transformers ``FP8Linear``): each decoder Linear
    [out, in] as F8_E4M3 plus an F32 ``weight_scale_inv`` [ceil(out/128), ceil(in/128)]."""
    out = {}
    for name, (dtype, shape) in tensors.items():
        out[name] = ("F8_E4M3", shape) if _decoder_linear(name) else (dtype, shape)
        if _decoder_linear(name):
            rows, cols = shape
            out[name + "_scale_inv"] = ("F32", [-(-rows // block), -(-cols // block)])
    return out


def awq_gemm_linears(tensors: dict[str, tuple[str, list[int]]],
                     group: int = 128) -> dict[str, tuple[str, list[int]]]:
    """AutoAWQ ``WQLinear_GEMM`` checkpoints (fp16): each decoder Linear [out, in] becomes int32
    ``qweight`` [in, out/8], int32 ``qzeros`` [in/group, out/8] and F16 ``scales`` [in/group, out];
    everything else is F16."""
    out = {}
    for name, (_, shape) in tensors.items():
        if _decoder_linear(name):
            rows, cols = shape
            base = name.removesuffix(".weight")
            out[base + ".qweight"] = ("I32", [cols, rows // 8])
            out[base + ".qzeros"] = ("I32", [cols // group, rows // 8])
            out[base + ".scales"] = ("F16", [cols // group, rows])
        else:
            out[name] = ("F16", shape)
    return out


def safetensors_header(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A header-only safetensors file: 8-byte length, JSON header (offsets as if data followed)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for d in shape:
            count *= d
        size = count * BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def sharded_repo(config: dict, tensors: dict, shards: int) -> dict[str, bytes]:
    """config.json, model-0000i-of-0000n.safetensors headers and the index, as the Hub holds them."""
    names = list(tensors)
    per = -(-len(names) // shards)
    files: dict[str, bytes] = {"config.json": json.dumps(config, indent=2).encode()}
    weight_map, total = {}, 0
    for i in range(shards):
        part = {n: tensors[n] for n in names[i * per:(i + 1) * per]}
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        files[fname] = safetensors_header(part)
        for n, (dtype, shape) in part.items():
            weight_map[n] = fname
            count = 1
            for d in shape:
                count *= d
            total += count * BITS[dtype] // 8
    files["model.safetensors.index.json"] = json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2).encode()
    return files


def build_repos() -> dict[str, dict]:
    """Every repo the server knows: files, plus the behaviour of special ones."""
    llama_cfg = json.loads((CONFIGS / "llama-3.1-8b.json").read_text())
    oss_cfg = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    gemma_cfg = json.loads((CONFIGS / "gemma-3-27b.json").read_text())
    llama = sharded_repo(llama_cfg, meta_tensors(llama_cfg), 4)
    oss = sharded_repo(oss_cfg, mxfp4_experts(meta_tensors(oss_cfg)), 3)
    qwen3_cfg = json.loads((CONFIGS / "qwen3-8b.json").read_text())
    fp8_cfg = {**qwen3_cfg, "quantization_config": {  # Qwen/Qwen3-8B-FP8's quantization_config
        "activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
        "weight_block_size": [128, 128]}}
    fp8 = sharded_repo(fp8_cfg, fp8_block_linears(meta_tensors(qwen3_cfg)), 2)
    qwen25_cfg = json.loads((CONFIGS / "qwen2.5-7b.json").read_text())
    awq_cfg = {**qwen25_cfg, "torch_dtype": "float16", "max_position_embeddings": 32768,
               "quantization_config": {  # Qwen/Qwen2.5-7B-Instruct-AWQ's quantization_config
                   "bits": 4, "group_size": 128, "modules_to_not_convert": None,
                   "quant_method": "awq", "version": "gemm", "zero_point": True}}
    awq = sharded_repo(awq_cfg, awq_gemm_linears(meta_tensors(qwen25_cfg)), 2)
    gpt2_cfg = json.loads((CONFIGS / "gpt2.json").read_text())
    gpt2 = {"config.json": json.dumps(gpt2_cfg).encode(),
            "model.safetensors": safetensors_header(meta_tensors(gpt2_cfg))}
    return {
        "meta-llama/Llama-3.1-8B": {"files": llama, "revisions": ("main", "v1.0")},
        "openai/gpt-oss-20b": {"files": oss},
        "openai-community/gpt2": {"files": gpt2},
        "Qwen/Qwen3-8B-FP8": {"files": fp8},
        "Qwen/Qwen2.5-7B-Instruct-AWQ": {"files": awq},
        "google/gemma-3-27b-it": {"files": {"config.json": json.dumps(gemma_cfg).encode(),
                                            "pytorch_model.bin": b"\0" * 64}},
        "acme/private-llama": {"files": llama, "private": True},
        "acme/gated-llama": {"files": llama, "gated": True},
        "acme/no-config": {"files": {"README.md": b"# nothing here\n"}},
        "acme/bad-json": {"files": {"config.json": b'{"num_hidden_layers": 32,'}},
        "acme/bad-config": {"files": {"config.json": json.dumps(
            {**llama_cfg, "num_key_value_heads": 7}).encode()}},
        "acme/rate-limited": {"files": llama, "status": 429},
        "acme/broken": {"files": llama, "status": 503},
        "acme/slow": {"files": llama, "delay": 30.0},
    }


class HubServer:
    """``with HubServer() as hub: os.environ['HF_ENDPOINT'] = hub.url``; stops on exit."""

    def __init__(self, repos: dict[str, dict] | None = None):
        self.repos = repos if repos is not None else build_repos()
        # (method, path, Authorization header, Range header) of every request, in order
        self.requests: list[tuple[str, str, str | None, str | None]] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                server._answer(self, head=True)

            def do_GET(self):
                server._answer(self, head=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "HubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def commit(repo: str, revision: str) -> str:
        return hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()

    def _send(self, h, status: int, body: bytes = b"", headers: dict | None = None, head=False):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def _error(self, h, status: int, code: str | None, head: bool):
        headers = {"X-Error-Code": code} if code else {}
        self._send(h, status, json.dumps({"error": code or "error"}).encode(), headers, head)

    def _answer(self, h, head: bool) -> None:
        auth = h.headers.get("Authorization")
        self.requests.append(("HEAD" if head else "GET", h.path, auth, h.headers.get("Range")))
        parts = h.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(h, 404, None, head)
        repo_id, revision, fname = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        authorized = auth == f"Bearer {TOKEN}"
        if repo is None or (repo.get("private") and not authorized):
            return self._error(h, 401 if repo is None or not auth else 404, "RepoNotFound", head)
        if repo.get("gated") and not authorized:
            return self._error(h, 403, "GatedRepo", head)
        if repo.get("status"):
            return self._error(h, repo["status"], None, head)
        if repo.get("delay"):
            self._stop.wait(repo["delay"])  # bounded; ends at once when the server stops
            if self._stop.is_set():
                return None
        revisions = repo.get("revisions", ("main",))
        commits = {self.commit(repo_id, r): r for r in revisions}
        if revision not in revisions and revision not in commits:
            return self._error(h, 404, "RevisionNotFound", head)
        rev = commits.get(revision, revision)
        body = repo["files"].get(fname)
        if body is None:
            return self._error(h, 404, "EntryNotFound", head)
        headers = {"X-Repo-Commit": self.commit(repo_id, rev),
                   "ETag": f'"{hashlib.sha256(body).hexdigest()}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        rng = h.headers.get("Range") or h.headers.get("range")
        if rng and rng.startswith("bytes=") and not head:
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s)
            end = min(int(end_s) if end_s else len(body) - 1, len(body) - 1)
            part = body[start:end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(part) - 1}/{len(body)}"
            return self._send(h, 206, part, headers)
        return self._send(h, 200, body, headers, head)


def serve_forever_for(seconds: float) -> None:
    """``python -m tests.hub_server``: run a server for manual tries (bounded)."""
    with HubServer() as hub:
        print(f"HF_ENDPOINT={hub.url}", flush=True)
        time.sleep(seconds)


if __name__ == "__main__":
    serve_forever_for(600)
