"""Hugging Face model ids: the one place this project touches the network.

``model_from_hub("org/name[@revision]")`` fetches the repo's ``config.json`` through
``huggingface_hub`` (its local cache first; ``HF_HUB_OFFLINE=1`` works from that cache) and the
exact parameter count and weight bytes from the safetensors headers (HTTP range requests for the
headers only, never the weights). Packed checkpoints (gpt-oss MXFP4 blocks and scales) count their
real bytes. The weights summary is cached beside the hub cache, keyed by commit, so offline use
keeps it.

Only called when a user asks for a model id. Every failure becomes one ``ValueError`` line that
starts with ``hf-model:``; the whole fetch is abandoned after ``deadline`` seconds (default 10) so a
page never hangs. The endpoint is ``HF_ENDPOINT`` (read on each call); the token is ``HF_TOKEN`` or
the one passed in, which is sent to that endpoint only and never logged. Remote code is never run.
"""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from pathlib import Path

from .hf_config import from_hf_config
from .model.weights import with_weights
from .load import parse_config_text
from .specs import ModelSpec

DEADLINE_S = 10.0
SINGLE_FILE, INDEX_FILE = "model.safetensors", "model.safetensors.index.json"
DEFAULT_ENDPOINT = "https://huggingface.co"
_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(?:@(?P<rev>[\w./-]{1,200}))?")
# Bytes per element of each safetensors dtype; sub-byte types are packed two per byte.
ST_DTYPE_BITS = {"F64": 64, "I64": 64, "U64": 64, "F32": 32, "I32": 32, "U32": 32, "F16": 16,
                 "BF16": 16, "I16": 16, "U16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
                 "I8": 8, "U8": 8, "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}


@dataclass(frozen=True, kw_only=True)
class Weights:
    """What the checkpoint stores: stored elements and their exact bytes, per safetensors dtype."""

    param_count: int                 # parameters (MXFP4 blocks: 2 per byte; their scales: none)
    weight_bytes: int                # exact tensor bytes, headers excluded
    by_dtype: tuple[tuple[str, int, int], ...]  # (dtype, elements, bytes)
    files: int


@dataclass(frozen=True, kw_only=True)
class HubModel:
    repo_id: str
    revision: str | None
    commit: str | None
    config: dict
    weights: Weights | None
    weights_note: str                # why weights is None, or ''


def parse_model_id(text: object) -> tuple[str, str | None]:
    """'org/name' or 'org/name@revision' (a full https://huggingface.co/org/name URL works too)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("hf-model: give a model id such as 'meta-llama/Llama-3.1-8B'")
    value = text.strip().removeprefix("https://").removeprefix("huggingface.co/").strip("/")
    match = _ID.fullmatch(value)
    if not match or ".." in value or "--" in match.group("repo"):
        raise ValueError(f"hf-model: {text.strip()!r} is not a model id (org/name or org/name@revision)")
    return match.group("repo"), match.group("rev")


def weights_from_headers(headers: dict[str, dict]) -> Weights:
    """Sum tensors of parsed safetensors headers ({file: {tensor: {dtype, shape, data_offsets}}})."""
    elements: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    for header in headers.values():
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
            count = 1
            for dim in shape:
                count *= int(dim)
            size = int(offsets[1]) - int(offsets[0])
            if dtype in ST_DTYPE_BITS and size != -(-count * ST_DTYPE_BITS[dtype] // 8):
                raise ValueError(f"hf-model: tensor {name!r} has {size} bytes for shape {shape} {dtype}")
            nbytes[dtype] = nbytes.get(dtype, 0) + size
            if dtype == "U8" and name.endswith("_blocks"):
                count *= 2  # MXFP4 (gpt-oss): two 4-bit parameters per byte
            elif dtype == "U8" and name.endswith("_scales") and name[:-7] + "_blocks" in header:
                count = 0   # the blocks' shared exponents: bytes, not parameters
            elements[dtype] = elements.get(dtype, 0) + count
    if not nbytes:
        raise ValueError("hf-model: the safetensors headers list no tensors")
    return Weights(param_count=sum(elements.values()), weight_bytes=sum(nbytes.values()),
                   by_dtype=tuple((d, elements[d], nbytes[d]) for d in sorted(elements)),
                   files=len(headers))


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cache_dir() -> str:
    """The hub cache, from the environment at call time (HF_HUB_CACHE, else HF_HOME/hub)."""
    from huggingface_hub import constants
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return constants.HF_HUB_CACHE


def _weights_cache(repo_id: str, commit: str) -> Path:
    return Path(_cache_dir()) / "kv-calculator" / repo_id.replace("/", "--") / f"{commit}.json"


def _read_weights_cache(path: Path) -> Weights | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Weights(param_count=int(data["param_count"]), weight_bytes=int(data["weight_bytes"]),
                       by_dtype=tuple(tuple(x) for x in data["by_dtype"]), files=int(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fetch_weights(api, repo_id: str, revision: str | None, commit: str | None,
                   token) -> tuple[Weights | None, str]:
    """Weights summary from the safetensors headers (one range request per file), cached by commit."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import SafetensorsParsingError
    cache = _weights_cache(repo_id, commit) if commit else None
    if cache is not None and (cached := _read_weights_cache(cache)) is not None:
        return cached, ""
    if _offline():
        return None, "weights not in the local cache (offline): enter a parameter count for capacity"
    rev = commit or revision
    if api.file_exists(repo_id, SINGLE_FILE, revision=rev, token=token):
        files = [SINGLE_FILE]
    elif api.file_exists(repo_id, INDEX_FILE, revision=rev, token=token):
        index = hf_hub_download(repo_id, INDEX_FILE, revision=rev, endpoint=api.endpoint, token=token,
                                cache_dir=_cache_dir(), etag_timeout=DEADLINE_S)
        weight_map = parse_config_text(Path(index).read_bytes()).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            return None, f"{INDEX_FILE} has no weight_map: enter a parameter count for capacity"
        files = sorted(set(map(str, weight_map.values())))
    else:
        return None, "no safetensors weights in the repo: enter a parameter count for capacity"

    def header(name: str) -> dict:
        meta = api.parse_safetensors_file_metadata(repo_id, name, revision=rev, token=token,
                                                   timeout=DEADLINE_S)
        return {n: {"dtype": t.dtype, "shape": t.shape, "data_offsets": t.data_offsets}
                for n, t in meta.tensors.items()}
    try:
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="hf-header") as pool:
            headers = dict(zip(files, pool.map(header, files)))
    except SafetensorsParsingError as exc:
        return None, f"safetensors header unreadable ({str(exc).splitlines()[0]}): enter a parameter count"
    weights = weights_from_headers(headers)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({**weights.__dict__, "by_dtype": list(weights.by_dtype)}))
        except OSError:
            pass  # a read-only cache only costs a refetch next time
    return weights, ""


def _config_path(repo_id: str, revision: str | None, endpoint: str, token) -> Path:
    """config.json from the hub cache or the Hub. One HEAD first, without the client's retries, so
    that a 401/403/404/429/5xx is reported at once rather than retried for half a minute; when the
    Hub cannot be reached at all, a cached copy is used."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache
    import httpx2

    cache_dir = _cache_dir()
    if not _offline():
        try:
            get_hf_file_metadata(hf_hub_url(repo_id, "config.json", revision=revision, endpoint=endpoint),
                                 token=token, timeout=DEADLINE_S)
        except (httpx2.TransportError, OSError) as exc:
            if getattr(exc, "response", None) is not None:
                raise  # the Hub answered with an error status
            cached = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir,
                                            revision=revision)
            if isinstance(cached, str):
                return Path(cached)
            raise
    return Path(hf_hub_download(repo_id, "config.json", revision=revision, endpoint=endpoint,
                                token=token, cache_dir=cache_dir, local_files_only=_offline(),
                                etag_timeout=DEADLINE_S))


def _fetch(repo_id: str, revision: str | None, token: str | None, with_weights: bool) -> HubModel:
    from huggingface_hub import HfApi
    endpoint = _endpoint()
    token = token or os.environ.get("HF_TOKEN") or False  # False: never read a stored login token
    path = _config_path(repo_id, revision, endpoint, token)
    config = parse_config_text(path.read_bytes())
    commit = path.parent.name if re.fullmatch(r"[0-9a-f]{40}", path.parent.name) else None
    weights, note = None, "not requested"
    if with_weights:
        weights, note = _fetch_weights(HfApi(endpoint=endpoint, token=token), repo_id, revision,
                                       commit, token)
    return HubModel(repo_id=repo_id, revision=revision, commit=commit, config=config,
                    weights=weights, weights_note=note)


def explain(exc: BaseException, repo_id: str, revision: str | None) -> str:
    """One line for any failure of a hub fetch."""
    from huggingface_hub import errors as e
    import httpx2

    where = f"{_endpoint()}/{repo_id}"
    rev = f" at revision {revision!r}" if revision else ""
    chain, cur = [], exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in chain:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if isinstance(err, e.GatedRepoError):
            return (f"hf-model: {repo_id} is gated: request access at {where} and use a token from an "
                    "account that has it (HF_TOKEN, or the token field)")
        if isinstance(err, e.RepositoryNotFoundError):
            return (f"hf-model: {repo_id} not found on the Hub (or private: set HF_TOKEN / the token "
                    "field to a token that can read it)")
        if isinstance(err, e.RevisionNotFoundError):
            return f"hf-model: revision {revision!r} not found in {repo_id}"
        if isinstance(err, e.RemoteEntryNotFoundError):
            return f"hf-model: {repo_id}{rev} has no config.json (not a transformers model?)"
        if isinstance(err, e.OfflineModeIsEnabled) or (_offline() and isinstance(err, e.LocalEntryNotFoundError)):
            return (f"hf-model: {repo_id}{rev} is not in the local hub cache and HF_HUB_OFFLINE=1 "
                    "forbids a download")
        if status in (401, 403):
            return f"hf-model: access denied to {repo_id} (HTTP {status}): check HF_TOKEN / the token field"
        if status == 429:
            return "hf-model: the Hub is rate-limiting requests (HTTP 429): wait a minute, or set HF_TOKEN"
        if status is not None and status >= 500:
            return f"hf-model: the Hub answered HTTP {status} for {repo_id}: try again later"
        if isinstance(err, (httpx2.TimeoutException, TimeoutError, FutureTimeout)):
            return f"hf-model: {_endpoint()} did not answer within {DEADLINE_S:g} s"
        if isinstance(err, (httpx2.TransportError, ConnectionError)):
            return f"hf-model: cannot reach {_endpoint()} ({type(err).__name__}): check the network"
        if isinstance(err, ValueError) and str(err).startswith(("config", "hf-model")):
            msg = str(err).removeprefix("hf-model: ")
            return f"hf-model: config.json of {repo_id}: {msg}" if msg.startswith("config") else f"hf-model: {msg}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"hf-model: could not fetch {repo_id}{rev}: {type(exc).__name__}{': ' + first if first else ''}"


def fetch_model(model_id: str, *, token: str | None = None, with_weights: bool = True,
                deadline: float = DEADLINE_S) -> HubModel:
    """Fetch config (and weights summary) of ``model_id``; ``ValueError`` with one line on failure."""
    repo_id, revision = parse_model_id(model_id)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-fetch")
    future = pool.submit(_fetch, repo_id, revision, token, with_weights)
    try:
        return future.result(timeout=deadline)
    except FutureTimeout:
        raise ValueError(f"hf-model: {_endpoint()} did not answer within {deadline:g} s") from None
    except Exception as exc:  # every failure becomes one line
        raise ValueError(explain(exc, repo_id, revision)) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def model_from_hub(model_id: str, *, token: str | None = None, include_mtp: bool = False,
                   deadline: float = DEADLINE_S) -> tuple[ModelSpec, HubModel]:
    """The ``ModelSpec`` of a Hub model (exact weights attached when safetensors are there)."""
    hub = fetch_model(model_id, token=token, deadline=deadline)
    name = hub.repo_id + (f"@{hub.revision}" if hub.revision else "")
    try:
        model = from_hf_config(hub.config, name=name, source=f"{_endpoint()}/{hub.repo_id}",
                               include_mtp=include_mtp,
                               param_count=hub.weights.param_count if hub.weights else None,
                               weight_bytes=hub.weights.weight_bytes if hub.weights else None)
    except ValueError as exc:
        raise ValueError(f"hf-model: config.json of {hub.repo_id}: {exc}") from None
    model = with_weights(model, hub.config, keep_exact=hub.weights is not None)
    if hub.weights is not None:
        model = replace(model, weights_from="checkpoint bytes (safetensors headers)")
    return model, hub
