"""Engines run agents' local updates: serially, in a process pool, or on Ray.

A local update is a pure, module-level function ``fn(chunk) -> result`` on an
explicit message (a chunk of a batch: plain arrays and scalars), so it can be
pickled to another process or a Ray worker. Every engine returns the results in
the order of the chunks, so a deterministic algorithm gives identical results on
every engine, and a :class:`~dec.errors.DecError` raised by ``fn`` in a worker is
raised by ``map`` as it was raised (not wrapped in the transport's own error).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from dec.errors import DecError, InputError


class EngineUnavailable(InputError):
    """The engine asked for needs an optional dependency that is not installed.

    The command line blames its ``--engine`` option (see :mod:`dec.run`).
    """


class Engine(Protocol):
    """Runs a function over chunks and returns the results in order."""

    name: str

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every chunk."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SerialEngine:
    """Runs every chunk in the calling process."""

    name = "serial"
    n_workers = 1

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every chunk, in order."""
        return [fn(chunk) for chunk in chunks]

    def close(self) -> None:
        """Nothing to release."""


class ProcessEngine:
    """Runs chunks in a pool of worker processes (started once, reused every round)."""

    name = "process"

    def __init__(self, n_workers: int | None = None):
        self.n_workers = n_workers or os.cpu_count() or 1
        self._pool = ProcessPoolExecutor(max_workers=self.n_workers)

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every chunk in the pool; results in chunk order.

        Raises
        ------
        DecError
            The error ``fn`` raised in a worker (it pickles back exactly).

        """
        return list(self._pool.map(fn, chunks))

    def close(self) -> None:
        """Shut the pool down."""
        self._pool.shutdown()


class RayEngine:
    """Runs chunks as Ray tasks (``pip install -e ".[ray]"``)."""

    name = "ray"

    def __init__(self, n_workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise EngineUnavailable(
                "The Ray engine needs Ray, which is not installed: install the 'ray' extra "
                '(pip install -e ".[ray]") or choose the serial or process engine.'
            ) from None
        self._ray = ray
        if not ray.is_initialized():
            ray.init(num_cpus=n_workers, include_dashboard=False, log_to_driver=False)
        self.n_workers = int(ray.available_resources().get("CPU", 1))
        self._remote: dict[Callable, Any] = {}

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every chunk as Ray tasks; results in chunk order.

        Raises
        ------
        DecError
            The error ``fn`` raised in a worker, unwrapped from Ray's ``RayTaskError``.

        """
        remote = self._remote.setdefault(fn, self._ray.remote(fn))
        refs = [remote.remote(chunk) for chunk in chunks]
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as err:
            self._discard(refs)
            if isinstance(err.cause, DecError):
                raise err.cause from None
            raise

    def _discard(self, refs: list[Any]) -> None:
        """Cancel the tasks of a failed map and collect their outcomes.

        Ray logs an error that nobody retrieved as "Unhandled error" with its traceback when
        its reference is dropped; the error that ``map`` raises is the one the user sees.
        """
        for ref in refs:
            self._ray.cancel(ref)
        for ref in refs:
            with contextlib.suppress(self._ray.exceptions.RayError):
                self._ray.get(ref)

    def close(self) -> None:
        """Leave Ray running for later runs in the same process."""


def make_engine(name: str, n_workers: int | None = None) -> Engine:
    """Return the engine called ``name`` (``serial``, ``process`` or ``ray``)."""
    if name == "serial":
        return SerialEngine()
    if name == "process":
        return ProcessEngine(n_workers)
    if name == "ray":
        return RayEngine(n_workers)
    raise InputError(f"Unknown engine {name!r}; allowed: serial, process, ray.")


def split(n_items: int, n_chunks: int) -> list[slice]:
    """Split ``range(n_items)`` into at most ``n_chunks`` contiguous, nearly equal slices."""
    n_chunks = max(1, min(n_chunks, n_items))
    bounds = [round(i * n_items / n_chunks) for i in range(n_chunks + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]
