"""A catalogue of accelerators as the driver reports them, plus parsing of custom sizes.

Each entry keeps the product's name as a label; its byte count is the total that
``torch.cuda.mem_get_info`` returns on that card, the figure engines multiply by their
utilization (vLLM prints it as "Free memory on device (free/TOTAL GiB)" or
"total_gpu_memory (TOTAL GiB)"). Engines print it to two decimals of a GiB, so a catalogue
total is the whole MiB nearest that figure; ``smi_mib`` is what ``nvidia-smi`` prints as
memory.total, the figure SGLang's ``get_device_memory_capacity`` reads (on AMD cards the MiB of
rocm-smi's VRAM total, which ``get_amdgpu_memory_capacity`` reads). Every number cites the
public line it was read from. ``nvlink`` marks cards sold in NVLink/NVSwitch boards (SXM and
the like), where NCCL and vLLM's custom all-reduce allocate their larger peer buffers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class GpuSpec:
    """One accelerator: its memory as the driver reports it and where that figure was read."""

    name: str
    total_gib: str          # the two-decimal GiB figure an engine printed
    smi_mib: int | None     # nvidia-smi memory.total in MiB (AMD: rocm-smi), None if not read
    nvlink: bool
    source: str
    sm: int = 0             # CUDA compute capability × 10 (90 Hopper, 100 Blackwell DC); 0: not CUDA

    @property
    def total_bytes(self) -> int:
        whole, _, frac = self.total_gib.partition(".")
        hundredths = int(whole) * 100 + int((frac + "00")[:2])
        return (hundredths * 1024 + 50) // 100 * MIB   # the MiB nearest the printed figure


def load_oom(weights: int, total: int, *, log: bool = False) -> str:
    """'' when one GPU's weights fit on the card; else the one line saying the engine fails while
    loading them (``log``: as the error line a startup log ends with). vLLM and SGLang allocate
    the weights before any check of their own, so what stops them is torch's allocator
    (``torch.OutOfMemoryError``), not the KV-pool messages."""
    if weights <= total:
        return ""
    fact = (f"the weights take {weights / GIB:.2f} GiB per GPU, more than the card's "
            f"{total / GIB:.2f} GiB")
    if log:
        return f"torch.OutOfMemoryError: CUDA out of memory while loading the weights ({fact})"
    return (f"{fact}: the engine fails while loading them (torch.OutOfMemoryError: CUDA out of "
            "memory); add GPUs (tensor parallel) or serve a smaller checkpoint")


def not_cuda(gpu: object) -> bool:
    """Whether a page's or the CLI's GPU is a catalogue entry outside CUDA (ROCm: ``sm`` 0), where
    the engines take their non-CUDA paths; a bare (name, bytes) size counts as CUDA."""
    return isinstance(gpu, GpuSpec) and gpu.sm == 0


_V = "vLLM gpu_worker 'Free memory on device (free/total GiB) on startup' line"
CATALOGUE: tuple[GpuSpec, ...] = (
    GpuSpec("H100 80GB", "79.19", 81559, True,
            f"{_V}, vLLM 0.10.2 on an H100 80GB HBM3 (llava-v1.6-mistral-7b run, find_string "
            "id 34680831065); nvidia-smi 81559MiB in vllm-project/vllm#55169", sm=90),
    GpuSpec("H200 141GB", "139.81", 143771, True,
            f"{_V}, vLLM 0.10.2 on H200 (Qwen3-Next-80B TP 2 run, id 7292846353); nvidia-smi "
            "143,771 MiB (id 59734064623)", sm=90),
    GpuSpec("H100 PCIe 80GB", "79.19", 81559, False,
            "the SXM card's figure: nvidia-smi prints the same 81559 MiB on H100 PCIe boards "
            "(ids 54562561713, 59138297598) and torch reported '79.2 GB' on one (driver 580.126, "
            "id 68918041486); PCIe-only, so NCCL's smaller buffers", sm=90),
    GpuSpec("GH200 96GB", "94.88", 97871, False,
            "PyTorch 'GPU 0 has a total capacity of 94.88 GiB' on a GH200 whose nvidia-smi shows "
            "97871 MiB (Lightning-AI/litgpt#1892); one superchip, its HBM only (the Grace memory "
            "is not counted)", sm=90),
    GpuSpec("H100 NVL 94GB", "93.00", 95830, True,
            "PyTorch 'GPU 0 has a total capacity of 93.00 GiB' on a RunPod H100 NVL 94GB "
            "(ali-vilab/VACE#56; torch reads the driver total vLLM multiplies); nvidia-smi "
            "'NVIDIA H100 NVL, 95830 MiB' (ids 55419965514, 71246027304)", sm=90),
    GpuSpec("H20 96GB", "95.33", 97871, True,
            "'1x NVIDIA H20, 97871 MiB total, 95.33 GiB reported usable by the runtime' under "
            "vLLM 0.19 (vllm-project/aibrix#2770); nvidia-smi 97871 MiB (id 65846954299)", sm=90),
    GpuSpec("A100 80GB", "79.15", 81920, True,
            f"{_V} '(78.68/79.15 GiB)' (ids 60004023718, 56880929202)", sm=80),
    GpuSpec("A100 40GB", "39.39", 40960, True,
            f"{_V} '(3.71/39.39 GiB)' on an A100 40GB (ids 56755533079, 56700921000)", sm=80),
    GpuSpec("L40S 48GB", "44.42", 46068, False,
            f"{_V}, vLLM 0.10.2 on 8 × L40S '(43.93/44.42 GiB)'; nvidia-smi 46068MiB "
            "(Qwen3-235B-A22B-FP8 hosting notes, id 38962983769)", sm=89),
    GpuSpec("RTX PRO 6000 96GB", "95.01", 97887, False,
            "vLLM 0.27.1 startup, 'GPU 0: NVIDIA RTX PRO 6000 Blackwell Server Edition 95.01 GiB' "
            "and '(94.05/95.01 GiB)' (ids 57905766703, 57935131721); nvidia-smi 97887 MiB (ids "
            "59217273470, 68957989941)", sm=120),
    GpuSpec("B200 180GB", "178.35", 183359, True,
            f"{_V} '(41.24/178.35 GiB)' and '(48.48/178.35 GiB)' on B200 boxes (ids 57688774351, "
            "54853090387); nvidia-smi 'NVIDIA B200, 183359 MiB' (ids 56212356169, 57123778888)",
            sm=100),
    GpuSpec("B300 288GB", "267.69", 275040, True,
            "PyTorch 'GPU 0 has a total capacity of 267.69 GiB' on B300 nodes (torch reads the "
            "driver total vLLM multiplies; ids 66974703316, 65719067222, 66068615294, the first "
            "under vLLM); nvidia-smi 'NVIDIA B300 SXM6 AC, 275040 MiB' (ids 71609078484, "
            "59793277385, 69077680576); compute capability 10.3", sm=103),
    GpuSpec("GB200 186GB", "184.31", 189471, True,
            "PyTorch 'GPU 0 has a total capacity of 184.31 GiB' on GB200 (vLLM DeepSeek-V4 decode "
            "on GB200, id 53295161045; ids 56511866012, 57017847114); nvidia-smi 'NVIDIA GB200, "
            "189471 MiB' (ids 60167695339, 66353498064); one Blackwell die's HBM (the Grace "
            "memory is not counted)", sm=100),
    GpuSpec("MI300X 192GB", "191.98", 196592, True,
            f"{_V} '(8.08/191.98 GiB)' on an MI300X (AMD GEAK runs, ids 70146089233, 70296656876); "
            "SGLang's get_amdgpu_memory_capacity reads the card as 196592 MiB: rocm-smi's 'VRAM "
            "Total Memory (B): 206141652992' (ids 56769285415, 51838722108), on main torch's "
            "total_memory // 2**20", sm=0),
    GpuSpec("MI325X 256GB", "255.98", None, True,
            "'AMD MI325X × 8 (255.98 GiB HBM each)' under vLLM 0.20.2 ROCm nightly "
            "(vllm-project/vllm#41963, and that box's other DeepSeek-V4 reports, ids "
            "56881978410, 56714437463, 57044329709)", sm=0),
    GpuSpec("MI355X 288GB", "287.98", None, True,
            "PyTorch 'HIP out of memory ... GPU 3 has a total capacity of 287.98 GiB' on 8 × MI355X "
            "(gfx950) under SGLang (a Kimi-K3 bring-up playbook, id 60904491974; ids "
            "61205771843, 58078872054); rocm-smi's VRAM total not read", sm=0),
    GpuSpec("RTX 4090 24GB", "23.53", 24564, False,
            f"{_V} '(23.08/23.53 GiB)' on a 24 GB card (id 34681159919); free 23.08 GiB at start "
            "on RTX 4090s under SGLang (id 55529353766, nvidia-smi 24564 MiB)", sm=89),
    GpuSpec("RTX 3090 24GB", "23.58", 24576, False,
            "vLLM 0.6.x 'Memory profiling results: total_gpu_memory=23.58GiB' on an RTX 3090 "
            "(Llama-3.1-8B-Instruct, vllm-project/vllm#10517); nvidia-smi 'NVIDIA GeForce RTX "
            "3090, 24576 MiB' (ids 57428273948, 67015699811)", sm=86),
    GpuSpec("RTX 5090 32GB", "31.36", 32607, False,
            f"{_V} '(30.86/31.36 GiB)' on a 32 GB GeForce card (ids 57676316864, 69451098589); "
            "nvidia-smi 'NVIDIA GeForce RTX 5090, 32607 MiB' (ids 58416872009, 55859864597)",
            sm=120),
    GpuSpec("A10G 24GB", "21.99", 23028, False,
            "PyTorch 'GPU 0 has a total capacity of 21.99 GiB' (torch reads the driver total vLLM "
            "multiplies) on AWS ml.g5.4xlarge, one A10G, in public SageMaker vLLM deployment notes "
            "(id 45023115869); the same notes read 21.96 GiB on ml.g6 (L4); nvidia-smi 'NVIDIA "
            "A10G, 23028 MiB' (ids 71642959660, 53791573930)", sm=86),
    GpuSpec("L4 24GB", "22.05", 23034, False,
            f"{_V} '(1.53/22.05 GiB)' on vLLM's own CI L4 agents (buildkite, flaky-test issue; id "
            "56744619973) and '(17.1/22.05 GiB)' (id 67058594853); nvidia-smi 'NVIDIA L4, 23034 "
            "MiB' (ids 54526473293, 71028648115)", sm=89),
    GpuSpec("RTX 3060 12GB", "11.63", 12288, False,
            "vLLM 0.19.0 'Free memory on device cuda:0 (9.02/11.63 GiB)' on an RTX 3060 12GB "
            "under Docker on Linux (id 62458215816); torch reads 11931 to 12044 MB on other "
            "drivers (ids 47192448531, 31224020222), so give a custom size there; nvidia-smi "
            "'NVIDIA GeForce RTX 3060, 12288 MiB' (ids 71161613891, 63246650381)", sm=86),
    GpuSpec("V100 32GB", "31.75", 32768, False,
            "torch.cuda.get_device_properties 'Tesla V100-PCIE-32GB', total_memory=32510MB "
            "(31.75 GiB; id 11514071660); PCIe board, so NCCL's smaller buffers; nvidia-smi "
            "'Tesla V100-PCIE-32GB, 32768 MiB' (ids 61542196938, 61178370208)", sm=70),
    GpuSpec("DGX Spark GB10", "121.69", None, False,
            f"{_V} '(105.9/121.69 GiB)' on a GB10 unified-memory box (id 68531280425); vLLM "
            "reads free memory from the OS there (MemorySnapshot.measure)", sm=121),
)
GPU_SPECS: dict[str, GpuSpec] = {g.name: g for g in CATALOGUE}

_PROPS = "torch.cuda.get_device_properties: multi_processor_count"
# Streaming multiprocessors (AMD: compute units) as torch reports them, what vLLM's
# ``num_compute_units`` reads to size its Triton top-k/top-p buffer (vllm_startup, from v0.17).
# name → (count, the public line it was read from); a card missing here gets an upper bound.
SM_COUNTS: dict[str, tuple[int, str]] = {
    "H100 80GB": (132, f"{_PROPS}=132, 'NVIDIA H100 80GB HBM3' (ids 16920867219, 43466784132)"),
    "H200 141GB": (132, f"{_PROPS}=132, 'NVIDIA H200' (id 2097843420)"),
    "H100 PCIe 80GB": (114, f"{_PROPS}=114, 'NVIDIA H100 PCIe' (id 33356850601)"),
    "GH200 96GB": (132, "'NVIDIA GH200 480GB, 132 SMs, 1980 MHz, 96 GB HBM3' (id 52566013099)"),
    "H100 NVL 94GB": (132, "'NVIDIA H100 NVL, 132 SMs, 95 GB' under torch 2.13 (id 65880510478)"),
    "DGX Spark GB10": (48, "'NVIDIA GB10, 48 SMs, compute capability 12.1' (ids 58904445123, "
                           "70973782981)"),
    "H20 96GB": (78, f"{_PROPS}=78, 'NVIDIA H20', total_memory=97285MB (id 16323699663)"),
    "A100 80GB": (108, f"{_PROPS}=108, 'NVIDIA A100-SXM4-80GB' (id 70306110927)"),
    "A100 40GB": (108, "paddle get_device_properties: multi_processor_count=108, "
                       "'A100-SXM4-40GB' (id 10665576045)"),
    "L40S 48GB": (142, f"{_PROPS}=142, 'NVIDIA L40S' (id 22161947869)"),
    "RTX PRO 6000 96GB": (188, "Triton DeviceProperties(multi_processor_count=188, cc=120), the "
                               "only sm_120 part with 188 SMs (id 69111419108)"),
    "B200 180GB": (148, f"{_PROPS}=148, 'NVIDIA B200' (ids 2097843420, 25224556183)"),
    "B300 288GB": (148, "'NVIDIA B300 SXM6 AC, 148 SMs, compute capability 10.3' (ids "
                        "61424822485, 52275965734)"),
    "GB200 186GB": (152, "'NVIDIA GB200, 152 SMs' (ids 68338340969, 68417466293)"),
    "MI300X 192GB": (304, f"{_PROPS}=304, 'AMD Instinct MI300X' (id 56715879733)"),
    "MI355X 288GB": (256, "'gfx950 (MI355X, 256 CUs)' (ids 56311728313, 69215603709)"),
    "RTX 4090 24GB": (128, f"{_PROPS}=128, 'NVIDIA GeForce RTX 4090' (id 7862287914)"),
    "RTX 3090 24GB": (82, f"{_PROPS}=82, 'GeForce RTX 3090' (id 73948879)"),
    "RTX 5090 32GB": (170, "Triton DeviceProperties(multi_processor_count=170, cc=120), the "
                           "RTX 5090's count (id 59200211759)"),
    "A10G 24GB": (80, f"{_PROPS}=80, 'NVIDIA A10G' (id 67234836605)"),
    "RTX 3060 12GB": (28, f"{_PROPS}=28, 'NVIDIA GeForce RTX 3060' (ids 47192448531, "
                          "3548678593)"),
    "V100 32GB": (80, f"{_PROPS}=80, 'Tesla V100-PCIE-32GB' (id 11514071660)"),
    "L4 24GB": (58, "Triton DeviceProperties(multi_processor_count=58, cc=89), the L4's count "
                    "(id 66305385590)"),
}


def sm_count(gpu: object) -> int | None:
    """The card's multiprocessor count (``SM_COUNTS``), None for a custom size or one not read."""
    spec = architecture_of(gpu)
    entry = SM_COUNTS.get(spec.name) if spec is not None else None
    return entry[0] if entry else None
GPUS: dict[str, int] = {g.name: g.total_bytes for g in CATALOGUE}

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(gib|gb|tib|tb|mib|mb)", re.IGNORECASE)
_SCALE = {"mib": 1 << 20, "gib": GIB, "tib": 1 << 40, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def architecture_of(gpu: object) -> GpuSpec | None:
    """The catalogue entry an engine rule reads the architecture from: a ``GpuSpec`` as is, a
    name looked up, None for a custom size, an ambiguous word or nothing."""
    if isinstance(gpu, GpuSpec):
        return gpu
    if isinstance(gpu, str) and gpu:
        try:
            return gpu_spec(gpu)
        except ValueError:  # an ambiguous word: no architecture to read
            return None
    return None


def gpu_spec(name: str) -> GpuSpec | None:
    """The catalogue entry for ``name`` (case-insensitive, spaces optional), None for a custom
    size. Leading words alone ("RTX 3090") name the one card they start, or the one plain
    "<word> <size>" card among several (H100 → H100 80GB, not the NVL); ``ValueError`` for words
    still ambiguous."""
    if not isinstance(name, str):
        raise ValueError(f"gpu: expected a name or a size, got {name!r}")
    key = name.replace(" ", "").lower()
    for spec in CATALOGUE:
        if spec.name.replace(" ", "").lower() == key:
            return spec
    words = name.lower().split()
    starts = [g for g in CATALOGUE if words and g.name.lower().split()[:len(words)] == words]
    plain = [g for g in starts if len(g.name.split()) == 2]
    if len(starts) == 1 or len(plain) == 1:
        return starts[0] if len(starts) == 1 else plain[0]
    if starts:
        raise ValueError(f"gpu: {name!r} is ambiguous; say e.g. '{starts[0].name}'")
    return None


def gpu_memory(name: str) -> int:
    """Bytes of a catalogue GPU as the driver reports them, or of a size like '96GiB'."""
    spec = gpu_spec(name)
    if spec is not None:
        return spec.total_bytes
    size = _size(name)
    if size is not None:
        return size
    raise ValueError(f"gpu: unknown {name!r}; use one of {', '.join(GPUS)} or a size like '96GiB'")


def _size(text: str, lo: int = 1) -> int | None:
    match = _SIZE.fullmatch(text.strip())
    if match:
        whole, _, frac = match.group(1).partition(".")
        scale = _SCALE[match.group(2).lower()]
        size = int(whole) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if lo <= size <= 1 << 50:
            return size
    return None


def parse_memory(text: object, field: str = "kv-memory", allow_zero: bool = False) -> int:
    """Bytes from '37.5GiB', '40GB', '512MiB' or a plain byte count (1 B to 1 PiB; from 0 with
    ``allow_zero``, where 0 is a real figure, not a missing one)."""
    lo = 0 if allow_zero else 1
    if isinstance(text, int) and not isinstance(text, bool) and lo <= text <= 1 << 50:
        return text
    if isinstance(text, str):
        t = text.strip().replace(",", "").replace("_", "")
        if t.isdigit() and lo <= int(t) <= 1 << 50:
            return int(t)
        if allow_zero and re.fullmatch(r"0+\.0*", t):
            return 0
        size = _size(t, lo)
        if size is not None:
            return size
    raise ValueError(f"{field}: give a size like 37.5GiB, 40GB or a byte count, got {text!r}")
