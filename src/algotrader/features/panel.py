"""Panel assembly: X (T, A, F) from feature groups and y (T, A), the target over week t+1.

Alignment (spec §1.2): ``X[t]`` uses bars up to the close of week t (label tau_t);
``y[t]`` is the return realised over week t + ``shift``, matched by *calendar week* (the
Monday of week t plus 7 x shift days), never by position. A gap in the weekly calendar
raises ``DataError`` naming the weeks; asset names must agree across groups and targets.
The last ``shift`` weeks have no target and are not rows of the panel. Both panels are
dated tau_t (the decision time).

Target kinds: ``open_to_close`` = C_(t+1)/O_(t+1) - 1 (intra-week, the source's), or
``close_to_close`` = C_(t+1)/C_t - 1; ``return_type: log`` takes logs instead. Missing bars
give a masked (NaN) target, never a zero.

Example:
    >>> from algotrader.features.inputs import synthetic_inputs
    >>> from algotrader.features.engine import compute_features
    >>> x = synthetic_inputs(40, 3)
    >>> fp = assemble_panel(x, compute_features(x, groups=["breakout", "seasonal"]))
    >>> fp.X.shape, fp.y.shape, fp.X.features[0], fp.metadata["target"]["kind"]
    ((39, 3, 7), (39, 3), 'breakout::brk_up_4w', 'open_to_close')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from algotrader.data.panel import Panel
from algotrader.errors import ConfigError, DataError
from algotrader.features.common import GroupResult
from algotrader.features.config import FeatureConfig
from algotrader.features.engine import compute_features
from algotrader.features.inputs import LakeInputs, load_lake_inputs
from algotrader.features.store import read_group, store_groups

TargetKind = Literal["open_to_close", "close_to_close"]
ReturnType = Literal["simple", "log"]


@dataclass(frozen=True, eq=False)
class FeaturePanel:
    """X, y and their provenance.

    Attributes:
        X: 3-d :class:`Panel` (T, A, F), features named ``group::feature``, mask = status ok.
        y: 2-d :class:`Panel` (T, A), the target realised over week t + shift, mask = observed.
        status: int8 (T, A, F) feature statuses (0 ok, 1 warmup, 2 degenerate, 3 missing).
        metadata: groups, feature names, lake version/hash, config hashes, target definition.
    """

    X: Panel
    y: Panel
    status: NDArray[np.int8]
    metadata: dict[str, Any]


def weekly_target(
    inputs: LakeInputs, kind: TargetKind = "open_to_close", return_type: ReturnType = "simple"
) -> NDArray[np.float64]:
    """Each week's own return, (T, A): open-to-close or close-to-close (row 0 NaN)."""
    c, o = inputs.weekly_close, inputs.weekly_open
    if kind == "open_to_close":
        num, den = c, o
    elif kind == "close_to_close":
        num = c
        den = np.vstack([np.full((1, c.shape[1]), np.nan), c[:-1]])
    else:
        raise ConfigError(
            f"unknown target kind {kind!r}",
            key="target.kind",
            hint="open_to_close or close_to_close",
        )
    if return_type not in ("simple", "log"):
        raise ConfigError(
            f"unknown return type {return_type!r}", key="target.return_type", hint="simple or log"
        )
    with np.errstate(all="ignore"):
        out = np.log(num / den) if return_type == "log" else num / den - 1.0
    return np.where(np.isfinite(out), out, np.nan)


def check_consecutive_weeks(week_start: NDArray[np.datetime64]) -> None:
    """Raise ``DataError`` naming the first gap in a Monday-week calendar."""
    gaps = np.flatnonzero(np.diff(week_start.astype("datetime64[D]")) != np.timedelta64(7, "D"))
    if gaps.size:
        i = int(gaps[0])
        raise DataError(
            f"weekly calendar is not consecutive: week {week_start[i]} is followed by "
            f"{week_start[i + 1]} ({gaps.size} gap(s))",
            hint="every week between the first and last must be in the lake",
        )


def _align(
    inputs: LakeInputs,
    names: list[str],
    values: NDArray[np.float64],
    status: NDArray[np.int8],
    *,
    kind: TargetKind,
    return_type: ReturnType,
    shift: int,
    meta: dict[str, Any],
) -> FeaturePanel:
    n_t = inputs.n_weeks
    if shift < 0 or shift >= n_t:
        raise ConfigError(f"target shift {shift} must be in [0, {n_t - 1}]", key="target.shift")
    check_consecutive_weeks(inputs.week_start)
    target = weekly_target(inputs, kind, return_type)
    rows = np.arange(n_t - shift)
    want = inputs.week_start[rows] + np.timedelta64(7 * shift, "D")
    tgt_rows = np.searchsorted(inputs.week_start, want)
    if (tgt_rows >= n_t).any() or (inputs.week_start[np.minimum(tgt_rows, n_t - 1)] != want).any():
        bad = int(
            np.flatnonzero(
                (tgt_rows >= n_t) | (inputs.week_start[np.minimum(tgt_rows, n_t - 1)] != want)
            )[0]
        )
        raise DataError(f"no target week {want[bad]} for feature week {inputs.week_start[bad]}")
    dates = inputs.timestamps[rows]
    x_vals = values[rows]
    x = Panel.from_arrays(
        dates, inputs.assets, x_vals, mask=status[rows] == 0, features=names, name="features"
    )
    y = Panel.from_arrays(dates, inputs.assets, target[tgt_rows], name="target")
    meta = dict(meta)
    meta.update(
        feature_names=names,
        rows=int(rows.size),
        assets=list(inputs.assets),
        lake_version=inputs.version,
        lake_hash=inputs.lake_hash,
        target={
            "kind": kind,
            "return_type": return_type,
            "shift": shift,
            "definition": (
                "C/O - 1 of week t+shift"
                if kind == "open_to_close"
                else "C_(t+shift)/C_(t+shift-1) - 1"
            )
            if return_type == "simple"
            else (
                "ln(C/O) of week t+shift"
                if kind == "open_to_close"
                else "ln C_(t+shift) - ln C_(t+shift-1)"
            ),
            "first_target_week": str(inputs.week_start[tgt_rows[0]]) if rows.size else None,
            "missing_target": int((~y.mask).sum()),
        },
    )
    return FeaturePanel(X=x, y=y, status=np.ascontiguousarray(status[rows]), metadata=meta)


def assemble_panel(
    inputs: LakeInputs,
    results: Mapping[str, GroupResult],
    *,
    target_kind: TargetKind = "open_to_close",
    return_type: ReturnType = "simple",
    shift: int = 1,
    prefix: bool = True,
) -> FeaturePanel:
    """X and y from computed groups (in ``results`` order) and the lake inputs."""
    if not results:
        raise ConfigError("no feature groups to assemble", key="groups")
    names = [f"{g}::{f}" if prefix else f for g, r in results.items() for f in r.features]
    values = np.concatenate([r.values for r in results.values()], axis=2)
    status = np.concatenate([r.status for r in results.values()], axis=2)
    meta = {"groups": list(results), "source": "memory"}
    return _align(
        inputs,
        names,
        values,
        status,
        kind=target_kind,
        return_type=return_type,
        shift=shift,
        meta=meta,
    )


def build_feature_panel(
    lake_folder: str | os.PathLike[str],
    config: FeatureConfig | None = None,
    *,
    groups: Sequence[str] | None = None,
    target_kind: TargetKind = "open_to_close",
    return_type: ReturnType = "simple",
    shift: int = 1,
) -> FeaturePanel:
    """Compute the configured groups from a lake version folder and assemble X, y."""
    config = config or FeatureConfig()
    inputs = load_lake_inputs(lake_folder)
    results = compute_features(inputs, config, groups)
    fp = assemble_panel(
        inputs, results, target_kind=target_kind, return_type=return_type, shift=shift
    )
    fp.metadata["config_hash"] = config.config_hash()
    return fp


def load_feature_panel(
    store_root: str | os.PathLike[str],
    lake_folder: str | os.PathLike[str],
    *,
    groups: Sequence[str] | Literal["all"] = "all",
    target_kind: TargetKind = "open_to_close",
    return_type: ReturnType = "simple",
    shift: int = 1,
) -> FeaturePanel:
    """Assemble X, y from stored groups ``store_root/<lake version>/<group>`` and the lake.

    ``groups="all"`` takes every stored group sorted by name. Every group must come from
    this very lake (its hash is checked: a changed lake is refused, never silently reused)
    and have the lake's timestamps and asset names."""
    inputs = load_lake_inputs(lake_folder)
    version = Path(lake_folder).name
    names = store_groups(store_root, version) if groups == "all" else list(groups)
    if not names:
        raise DataError("no feature groups stored", file=str(Path(store_root) / version))
    feats: list[str] = []
    vals, stats, hashes = [], [], {}
    for g in names:
        sg = read_group(Path(store_root) / version / g)
        folder = str(Path(store_root) / version / g)
        if sg.metadata.get("lake_hash") != inputs.lake_hash:
            raise DataError(
                f"feature group {g} was computed from a different lake (hash mismatch)",
                file=folder,
                hint="re-run `algotrader feature-engineering` on this lake version",
            )
        if sg.assets != inputs.assets:
            raise DataError(
                f"feature group {g} assets {list(sg.assets)[:3]}... differ from the lake's",
                file=folder,
            )
        if (
            sg.timestamps.shape != inputs.timestamps.shape
            or (sg.timestamps != inputs.timestamps).any()
        ):
            raise DataError(
                f"feature group {g} timestamps differ from the lake's weeks", file=folder
            )
        feats += [f"{g}::{f}" for f in sg.features]
        vals.append(sg.values)
        stats.append(sg.status)
        hashes[g] = sg.metadata.get("config_hash")
    meta = {"groups": names, "source": str(Path(store_root) / version), "config_hashes": hashes}
    return _align(
        inputs,
        feats,
        np.concatenate(vals, axis=2),
        np.concatenate(stats, axis=2),
        kind=target_kind,
        return_type=return_type,
        shift=shift,
        meta=meta,
    )


__all__ = [
    "FeaturePanel",
    "assemble_panel",
    "build_feature_panel",
    "check_consecutive_weeks",
    "load_feature_panel",
    "weekly_target",
]
