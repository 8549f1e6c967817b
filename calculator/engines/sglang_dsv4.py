"""SGLang's DeepSeek-V4 pools: how ``DSV4PoolConfigurator`` splits the memory left per GPU into
the sliding-window, compressed (CSA / HCA), indexer and compressor-state pools, and its lines.

Read at sgl-project/sglang 003fca80, ``python/sglang/srt``:

- the DeepSeek-V4 server-arg hook ``apply_deepseek_v4_defaults``: attention backend dsv4 and
  ``page_size = 256`` whatever ``--page-size`` says; ``--kv-cache-dtype auto`` becomes fp8_e4m3
  (the only CUDA choice; bfloat16 is the Ascend NPU's); ``max_running_requests`` defaults to 256;
  ``--swa-full-tokens-ratio`` left at its default becomes 0.1. Each change is logged.
- ``configs/model_config.py``: qk_nope_head_dim = head_dim − qk_rope_head_dim, window_size =
  sliding_window, compress_ratios from the config (cut to the main layers by the PP range).
- ``model_executor/pool_configurator.py`` · ``DSV4PoolConfigurator``:
  ``_get_bytes_per_full_token`` (float): swa_ratio · kv_bytes · layers + kv_bytes / 4 · CSA layers
  + kv_bytes / 128 · HCA layers + indexer_bytes / 4 · CSA layers + swa_ratio · (c4 ring / window)
  · (c4 state + c4 indexer state) · CSA layers, with kv_bytes = nope + 2 · rope + 8 (the
  fp8_ds_mla row: 448 fp8 + 64 bf16 + 8 scale bytes = 584), indexer_bytes = 128 + 128 / 128 · 4
  = 132, c4 state = 2 · 2 · head_dim · 4 and c4 indexer state = 2 · 2 · index_head_dim · 4
  (``SGLANG_DSV4_COMPRESS_STATE_DTYPE`` float32), c4 ring 8 (``get_compress_state_ring_size``,
  ``deepseek_v4_memory_pool.py``, no speculative decoding; HCA ring 128, online c128 off).
  ``_get_c128_state_fixed_bytes``: the HCA state is request-scoped, ceil((slots · 128 + 128 + 1)
  / 128) · 128 rows of 2 · head_dim float32 per HCA layer, slots = max_running_requests + 1, taken
  off the memory first. ``calculate_pool_sizes``: full = int((available − fixed) /
  bytes_per_full_token), then ``_compute_dsv4_sizes``: full and swa = int(full · ratio) rounded
  down to the page, c4 = full // 4, c128 = full // 128, c4 state = swa // window · 8 rows; it logs
  ``DSV4 memory calculation: …`` and ``DSV4 pool sizes: …`` (GB = 2³⁰ bytes).

``--device npu`` (Ascend): an SGLang copy of the same hook (``arg_groups/deepseek_v4_hook.py``,
find_string id 54507213708) adds, after the dtype default, ``if server_args.device == "npu"``:
page_size 128 and kv_cache_dtype bfloat16, then logs the page line with 128. The configurator is
the same code: two public Ascend starts of DeepSeek-V4-Flash-0731 (W4A8, TP 4) print
``bytes_per_full_token=7705.45`` with a bfloat16 cache, the HCA state of their
``--max-running-requests`` (4: 0.07 GB, 8: 0.11 GB) and pool sizes split at 128-token pages
(find_string ids 57615238133 and 57382202304; ``tests/test_sglang_dsv4.py`` reproduces their
lines). No public CUDA start was in reach; its 256-token split is the same arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..specs import CompressedAttentionSpec, ModelSpec

SGLANG_DSV4_VERSION = "SGLang 003fca80 (DSV4PoolConfigurator)"
ARCH = "DeepseekV4ForCausalLM"
PAGE = 256                  # forced by apply_deepseek_v4_defaults
NPU_PAGE = 128              # the hook's device == "npu" branch
DEVICES = ("cuda", "npu")   # SGLang's --device values read here
SWA_RATIO = 0.1             # the V4 default of --swa-full-tokens-ratio
SERVER_ARGS_RATIO = 0.8     # ServerArgs.swa_full_tokens_ratio: a ratio equal to it is replaced
MAX_RUNNING = 256           # the V4 default of --max-running-requests
C4_RING, C128_RING = 8, 128  # get_compress_state_ring_size, no speculative decoding
STATE_ITEM = 4              # SGLANG_DSV4_COMPRESS_STATE_DTYPE = float32
GB = 1 << 30


@dataclass(frozen=True)
class SglangV4Pool:
    """DeepSeek-V4's pools on one GPU as SGLang sizes them (``tokens``: the full-token count,
    SGLang's max_total_num_tokens)."""

    model: str
    tokens: int
    swa_tokens: int
    c4_tokens: int
    c128_tokens: int
    c4_state_rows: int
    c128_state_rows: int       # finalize_with_max_running_requests: slots × 128
    bytes_per_full_token: float
    c128_state_fixed: int      # bytes, taken off before the division
    kv_row: int                # 584 (fp8_ds_mla)
    index_row: int             # 132
    c4_state_row: int          # 2 · 2 · head_dim · 4 + 2 · 2 · index_head_dim · 4
    layers: int
    csa_layers: int
    hca_layers: int
    window: int
    available: int | None      # the memory given (None: sized from tokens)
    max_running_requests: int
    config_lines: tuple[str, ...] = ()
    page_size: int = PAGE
    dtype_name: str = "torch.float8_e4m3fn"

    @property
    def cell_size(self) -> int:
        """bytes_per_full_token rounded up: what one token of ``tokens`` costs (SGLang budgets it
        as a float)."""
        return -int(-self.bytes_per_full_token // 1)

    @property
    def k_bytes(self) -> int:
        """The pools' KV rows: window rows on every layer, CSA and HCA entries."""
        return self.kv_row * (self.swa_tokens * self.layers + self.c4_tokens * self.csa_layers
                              + self.c128_tokens * self.hca_layers)

    v_bytes = 0

    @property
    def index_bytes(self) -> int:
        return self.index_row * self.c4_tokens * self.csa_layers

    @property
    def state_bytes(self) -> int:
        return self.c4_state_row * self.c4_state_rows * self.csa_layers + self.c128_state_fixed

    @property
    def total_bytes(self) -> int:
        """The rows the configurator sizes (its pools allocate a page of slack on top)."""
        return self.k_bytes + self.index_bytes + self.state_bytes

    def request_bytes(self, context: int) -> int:
        """SGLang's budget for one request: ``context`` full tokens at bytes_per_full_token."""
        return int(self.bytes_per_full_token * context)

    def max_requests(self, context: int) -> float:
        """Requests of ``context`` tokens: the full pool's, at most max_running_requests."""
        return min(self.tokens / context, self.max_running_requests)

    def log_lines(self, style: str = "current", *, config: bool = True) -> list[str]:
        if style != "current":
            raise ValueError("log-style: SGLang's DeepSeek-V4 pools came with 2026 builds; "
                             "use the current style")
        lines = list(self.config_lines) if config else []
        if self.available is not None:
            lines.append(f"DSV4 memory calculation: bytes_per_full_token={self.bytes_per_full_token:.2f}, "
                         f"available_bytes={self.available / GB:.2f} GB, "
                         f"c128_state_fixed={self.c128_state_fixed / GB:.2f} GB, full_token={self.tokens}")
        lines.append(f"DSV4 pool sizes: full={self.tokens}, swa={self.swa_tokens}, c4={self.c4_tokens}, "
                     f"c128={self.c128_tokens}, c4_state={self.c4_state_rows}, c128_state=0")
        return lines

    def log_line(self, style: str = "current", *, config: bool = True) -> str:
        return "\n".join(self.log_lines(style, config=config))


def _geometry(model: ModelSpec) -> tuple[CompressedAttentionSpec, int, int, int, int]:
    specs = model.layer_specs()
    if model.mtp_counted:
        raise ValueError("engine sglang: SGLang sizes DeepSeek-V4's pools over the main layers "
                         "(its MTP draft is a separate worker); size it without MTP layers")
    if not all(isinstance(s, CompressedAttentionSpec) for s in specs):
        raise ValueError("engine sglang: a DeepSeek-V4 model has V4 attention on every layer")
    rates = {s.compress_rate for s in specs}
    if rates - {0, 4, 128}:
        raise ValueError("engine sglang: SGLang's DeepSeek-V4 pools compress at 4 and 128 "
                         "(get_compress_state_ring_size asserts it)")
    first = specs[0]
    if len({(s.head_dim, s.window, s.num_kv_heads) for s in specs}) != 1 or first.num_kv_heads != 1:
        raise ValueError("engine sglang: DeepSeek-V4's pools assume one 512-wide head and one "
                         "window on every layer")
    rope = (model.config or {}).get("qk_rope_head_dim", 64)
    if not isinstance(rope, int) or isinstance(rope, bool) or not 0 < rope < first.head_dim:
        raise ValueError(f"qk_rope_head_dim: must be an integer below head_dim, got {rope!r}")
    csa = sum(1 for s in specs if s.compress_rate == 4)
    hca = sum(1 for s in specs if s.compress_rate == 128)
    index = next((s.index_head_dim for s in specs if s.compress_rate == 4), 128) or 128
    return first, rope, index, csa, hca


def _rows(head: int, rope: int, index: int) -> tuple[int, int, int, int]:
    """(kv_bytes, indexer_bytes, c4 state, c4 indexer state) per row, as the configurator has
    them: the fp8_ds_mla row (nope fp8 + rope bf16 + 8 scale bytes), the fp8 indexer key plus one
    fp32 scale per 128, and float32 (kv, score) rows twice as wide for CSA's overlap."""
    return (head - rope + rope * 2 + 8, index + index // 128 * 4,
            2 * 2 * head * STATE_ITEM, 2 * 2 * index * STATE_ITEM)


def _bytes_per_full_token(rows: tuple[int, int, int, int], layers: int, csa: int, hca: int,
                          window: int, ratio: float) -> float:
    """``_get_bytes_per_full_token``, term by term in SGLang's order (float arithmetic)."""
    kv_bytes, indexer_bytes, c4_state_bytes, c4_indexer_state_bytes = rows
    c4_state_ratio = C4_RING / window
    return (ratio * kv_bytes * layers
            + 1 / 4 * kv_bytes * csa      # c4_frac: 1 / (4 · c4_shrink_factor), no HiSparse
            + 1 / 128 * kv_bytes * hca
            + 1 / 4 * indexer_bytes * csa
            + ratio * c4_state_ratio * c4_state_bytes * csa
            # + c128_state_ratio (0: the HCA state is request-scoped, see below) · … · hca
            + ratio * c4_state_ratio * c4_indexer_state_bytes * csa)


def c128_state_fixed_bytes(head: int, hca: int, max_running_requests: int) -> int:
    """``_get_c128_state_fixed_bytes``: the request-scoped HCA state, float32 (kv, score)."""
    if hca == 0:
        return 0
    slots = max_running_requests + 1
    rows = slots * C128_RING + C128_RING + 1
    rows = -(-rows // 128) * 128
    return rows * 2 * head * STATE_ITEM * hca


def pool(model: ModelSpec, *, tokens: int | None = None, kv_memory: int | None = None,
         kv_cache_dtype: str = "auto", swa_full_tokens_ratio: float = SERVER_ARGS_RATIO,
         max_running_requests: int | None = None, page_size: int = PAGE,
         device: str = "cuda") -> SglangV4Pool:
    """SGLang's DeepSeek-V4 pools for ``kv_memory`` bytes per GPU (the profiling path) or pools
    that hold ``tokens`` full tokens (``calculate_pool_sizes_from_max_tokens`` with ``tokens``
    rounded up to whole pages). ``page_size`` is accepted and overridden to 256 (``device`` npu:
    128, with a bfloat16 cache), as SGLang does."""
    if device not in DEVICES:
        raise ValueError(f"device: SGLang's DeepSeek-V4 pools are read for {', '.join(DEVICES)}, "
                         f"got {device!r}")
    dtypes = ("auto", "fp8_e4m3") + (("bfloat16",) if device == "npu" else ())
    if kv_cache_dtype not in dtypes:
        raise ValueError(f"kv-cache-dtype: SGLang serves DeepSeek-V4 on {device.upper()} with "
                         f"{' or '.join(dtypes[1:])} only, got {kv_cache_dtype}")
    page = NPU_PAGE if device == "npu" else PAGE
    spec, rope, index, csa, hca = _geometry(model)
    lines = []
    if kv_cache_dtype == "auto":  # logged before the NPU branch replaces it with bfloat16
        lines.append(f"Setting KV cache dtype to fp8_e4m3 for {ARCH}.")
    lines.append(f"Use dsv4 attention backend for {ARCH}, setting page_size to {page}.")
    if max_running_requests is None:
        max_running_requests = MAX_RUNNING
        lines.append(f"Setting max_running_requests to {MAX_RUNNING} for {ARCH}.")
    elif max_running_requests < 1:
        raise ValueError("max-running-requests: must be at least 1")
    ratio = swa_full_tokens_ratio
    if ratio == SERVER_ARGS_RATIO:  # left at ServerArgs' default: the hook sets V4's
        ratio = SWA_RATIO
        lines.append(f"Setting swa_full_tokens_ratio to {SWA_RATIO} for {ARCH}.")
    if not 0 < ratio <= 1:
        raise ValueError(f"swa-full-tokens-ratio: must be in (0, 1], got {ratio}")
    layers = model.num_layers
    rows = _rows(spec.head_dim, rope, index)
    bpft = _bytes_per_full_token(rows, layers, csa, hca, spec.window, ratio)
    fixed = c128_state_fixed_bytes(spec.head_dim, hca, max_running_requests)
    if tokens is None:
        if kv_memory is None or kv_memory <= 0:
            raise ValueError("kv-memory: give the memory SGLang has for the pools")
        full = int(max(kv_memory - fixed, 0) / bpft) // page * page
    elif tokens < 1:
        raise ValueError("tokens: must be at least 1")
    else:  # pools that hold ``tokens``: whole pages
        full = -(-tokens // page) * page
    if full <= 0:
        raise ValueError("kv-memory: the HCA state for max_running_requests leaves no page of "
                         "tokens; SGLang stops here (Not enough memory)")
    swa = int(full * ratio) // page * page
    return SglangV4Pool(
        model=model.name, tokens=full, swa_tokens=swa, c4_tokens=full // 4,
        c128_tokens=full // 128, c4_state_rows=swa // spec.window * C4_RING,
        c128_state_rows=(max_running_requests + 1) * C128_RING, bytes_per_full_token=bpft,
        c128_state_fixed=fixed, kv_row=rows[0], index_row=rows[1], c4_state_row=rows[2] + rows[3],
        layers=layers, csa_layers=csa, hca_layers=hca, window=spec.window,
        available=kv_memory if tokens is None else None,
        max_running_requests=max_running_requests, config_lines=tuple(lines), page_size=page,
        dtype_name="torch.bfloat16" if device == "npu" else "torch.float8_e4m3fn")
