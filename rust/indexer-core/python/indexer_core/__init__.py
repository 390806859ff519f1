"""The indexer's native per-event path (Rust, built by maturin): see docs/native-core.md.

`indexer/core.py` chooses between it and the Python reference (`indexer/transform.py`)."""

from indexer_core._core import CONTRACT, Core, __version__

__all__ = ["CONTRACT", "Core", "__version__"]
