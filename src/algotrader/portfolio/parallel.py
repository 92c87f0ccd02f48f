"""Who owns the optimiser's parallelism: our block threads, never the BLAS as well.

The row kernel factorises one matrix per row with LAPACK ``potrf`` (OpenBLAS here). Left
alone, OpenBLAS threads every factorisation itself; the batch also splits the
factorisations of a block of rows over its own threads. Both at once oversubscribe the
cores (measured on 2 cores, N = 1,000: 12 ms a row quiet and 18 ms with one competing
process, against 6 ms with our threads alone; the issue reported 109 ms under more load).
And OpenBLAS's threaded ``potrf`` does not round like its single-threaded one (the
factors differ in the last bits from N = 300 on), so results would depend on the BLAS
thread count and the stream (one row at a time) would no longer equal the batch.

The policy is therefore:

* every optimiser call that factorises (``run_batch``, ``OptimiserStream.step``,
  ``correlation``) runs with the BLAS limited to one thread (:func:`single_threaded_blas`,
  via ``threadpoolctl``). The pin is reference-counted: the first active pin of the process
  sets the limit, nested or concurrent pins (other Python threads) only count, and the
  last one to leave restores the limits found by the first, so no caller unpins another's
  solve early;
* the batch solves of a block run on :func:`default_threads` threads of ours: the
  ``ALGOTRADER_THREADS`` setting (:func:`algotrader.settings.threads_from_env`) when set,
  else one thread below :data:`PARALLEL_MIN_ASSETS` assets and the usable cores (at most
  :data:`MAX_THREADS`) from there on.

Numbers never depend on either choice (tested): every factorisation is the same
single-threaded LAPACK call, whichever thread runs it.

Example:
    >>> default_threads(10, env={})
    1
    >>> default_threads(10, env={"ALGOTRADER_THREADS": "3"})
    3
    >>> with single_threaded_blas():
    ...     with single_threaded_blas():
    ...         blas_pin_depth()
    2
    >>> blas_pin_depth()
    0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

from algotrader.settings import threads_from_env

#: Smallest number of assets for which the batch solves use several threads by default
#: (measured on 2 cores with the BLAS pinned: see docs/optimiser.md, "Threads").
PARALLEL_MIN_ASSETS = 200
#: Most solve threads chosen by default.
MAX_THREADS = 4

_CONTROLLER: ThreadpoolController | None = None
_LOCK = threading.Lock()


def usable_cores() -> int:
    """CPU cores this process may run on (affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_threads(n_assets: int, env: Mapping[str, str] | None = None) -> int:
    """Solve threads of a batch over ``n_assets`` assets (see the module docstring).

    Args:
        env: environment to read ``ALGOTRADER_THREADS`` from (default ``os.environ``).
    """
    setting = threads_from_env(env)
    if setting is not None:
        return setting
    if n_assets < PARALLEL_MIN_ASSETS:
        return 1
    return max(1, min(MAX_THREADS, usable_cores()))


def _controller() -> ThreadpoolController:
    global _CONTROLLER
    with _LOCK:
        if _CONTROLLER is None:
            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


_PIN_LOCK = threading.Lock()
_PIN_DEPTH = 0
_PIN_SAVED: list[tuple[Any, int]] = []  # (BLAS controller, thread count) before the pin


def blas_pin_depth() -> int:
    """Number of :func:`single_threaded_blas` blocks active in the process (all threads)."""
    with _PIN_LOCK:
        return _PIN_DEPTH


def _set_blas_threads(lib: Any, n: int) -> None:
    # threadpoolctl (>= 3.6) lets only the first Python thread that limits a pthreads
    # OpenBLAS change it later ("controlling thread"); a pin taken in a worker thread would
    # then be ignored. The reference count under _PIN_LOCK is our arbitration, so set the
    # library's process-wide count directly where threadpoolctl exposes the setter.
    getattr(lib, "_real_set_num_threads", lib.set_num_threads)(n)


def _pin() -> None:
    global _PIN_DEPTH, _PIN_SAVED
    with _PIN_LOCK:
        if _PIN_DEPTH == 0:
            libs = [c for c in _controller().lib_controllers if c.user_api == "blas"]
            _PIN_SAVED = [(lib, int(lib.get_num_threads() or 1)) for lib in libs]
            for lib, _ in _PIN_SAVED:
                _set_blas_threads(lib, 1)
        _PIN_DEPTH += 1


def _unpin() -> None:
    global _PIN_DEPTH, _PIN_SAVED
    with _PIN_LOCK:
        _PIN_DEPTH -= 1
        if _PIN_DEPTH == 0:
            saved, _PIN_SAVED = _PIN_SAVED, []
            for lib, n in saved:
                _set_blas_threads(lib, n)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS to one thread inside the block (process-wide; restored).

    Reference-counted over the whole process: nested blocks and blocks running at the
    same time in several Python threads share one pin, set by the first to enter and
    lifted (restoring the limits found then) by the last to leave. Costs about 20 us for
    the outermost block, well under 1 us for the others. While a pin is active, other
    threads of the process that call the BLAS also run single-threaded. This relies on
    the BLAS thread count being process-global (OpenBLAS with pthreads, as in the numpy
    wheels); an OpenMP-layered BLAS would keep a per-thread count.
    """
    _pin()
    try:
        yield
    finally:
        _unpin()


__all__ = [
    "MAX_THREADS",
    "PARALLEL_MIN_ASSETS",
    "blas_pin_depth",
    "default_threads",
    "single_threaded_blas",
    "usable_cores",
]
