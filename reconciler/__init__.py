"""reconciler: tie impact.com batch-submission results back to the records that were sent.

Public API: :func:`reconcile` (and :func:`write_outputs`), :func:`check` (a file before it is
sent; takes a ``Table`` from ``reconciler.readers.read_table``), :data:`__version__`.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "check", "reconcile", "write_outputs"]


def __getattr__(name: str) -> object:
    # Imported lazily so `reconciler --help` and `reconciler codes` start fast.
    if name in ("reconcile", "write_outputs"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "check":
        from .preflight import check

        return check
    raise AttributeError(name)
