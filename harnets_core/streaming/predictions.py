"""The read API shared by every prediction type (streaming, fused): the top-1 class of a
probability vector over named classes."""
from __future__ import annotations

import numpy as np

__all__ = ["TopClass"]


class TopClass:
    """Mixin for a dataclass with `class_names`, `class_ids` and `probabilities` (K,)."""

    class_names: tuple[str, ...]
    class_ids: tuple[int, ...]
    probabilities: np.ndarray

    @property
    def index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def label(self) -> str:
        return self.class_names[self.index]

    @property
    def class_id(self) -> int:
        return self.class_ids[self.index]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.index])
