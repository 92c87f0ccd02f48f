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
  via ``threadpoolctl``; restored afterwards);
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
    ...     pass
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

from algotrader.settings import threads_from_env

#: Smallest number of assets for which the batch solves use several threads by default
#: (measured on 2 cores with the BLAS pinned: see docs/optimiser.md, "Threads").
PARALLEL_MIN_ASSETS = 400
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


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS to one thread inside the block (process-wide; restored).

    Costs about 20 us. While it is active, other threads of the process that call the BLAS
    also run single-threaded.
    """
    with _controller().limit(limits=1, user_api="blas"):
        yield


__all__ = [
    "MAX_THREADS",
    "PARALLEL_MIN_ASSETS",
    "default_threads",
    "single_threaded_blas",
    "usable_cores",
]
