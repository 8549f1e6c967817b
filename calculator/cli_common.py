"""What the CLI's modules share: the one-line usage error and the weight fields of JSON rows."""
from __future__ import annotations

from .capacity import weights_per_gpu
from .specs import ModelSpec


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def weights_json(model: ModelSpec, tp: int = 1, pp: int = 1, per_gpu: int | None = None) -> dict:
    """The weight fields every JSON row carries: the whole checkpoint and one GPU's share
    (``per_gpu`` when an engine mode knows what it allocates)."""
    return {"param_count": model.param_count, "weight_bytes": model.weight_bytes,
            "weight_bytes_per_gpu": weights_per_gpu(model, tp, pp) if per_gpu is None else per_gpu,
            "weights_from": model.weights_from or model.weights_error or None}
