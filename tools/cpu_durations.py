"""pytest plugin: CPU seconds per test (setup + call + teardown), for a shared, loaded machine.

Wall-clock ``--durations`` grow with the machine's load; CPU time does not (much). This plugin
adds up, per test, the CPU time of this process (all its threads: XLA compiles, BLAS) and of
the child processes that finished meanwhile (``RUSAGE_CHILDREN``: subprocess tests, spawn
pools), and prints the slowest at the end plus the total.

Usage::

    PYTHONPATH=tools .venv/bin/python -m pytest tests/amm -m "not slow" -p cpu_durations \
        -p no:cacheprovider -q          # CPU_DURATIONS=40 shows 40 rows (default 25)

Under xdist each worker measures its own tests; the table is printed by each worker's
terminal reporter only without ``-n`` (run it without xdist).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Generator
from typing import Any

import pytest

_CPU: dict[str, float] = {}


def _now() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Generator[None, None, None]:
    t0 = _now()
    yield
    _CPU[item.nodeid] = _CPU.get(item.nodeid, 0.0) + _now() - t0


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _CPU:
        return
    n = int(os.environ.get("CPU_DURATIONS", "25"))
    rows = sorted(_CPU.items(), key=lambda kv: -kv[1])
    tr = terminalreporter
    tr.write_sep("=", f"slowest {min(n, len(rows))} tests by CPU seconds")
    for nodeid, secs in rows[:n]:
        tr.write_line(f"{secs:8.2f}s cpu  {nodeid}")
    tr.write_line(f"total test CPU {sum(_CPU.values()):.1f} s over {len(rows)} tests")
