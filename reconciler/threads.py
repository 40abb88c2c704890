"""Work started on a thread of its own while the caller goes on.

Owns: starting one such job. A million-record run keys, encodes and counts on the second core
while the first ties and classifies; Arrow's kernels run outside the GIL.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def background(name: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
    """Run ``fn(*args, **kwargs)`` on a new thread named ``reconciler-<name>``; its result (or
    exception) comes through the returned future. The thread ends with the job."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reconciler-{name}")
    try:
        return pool.submit(fn, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)
