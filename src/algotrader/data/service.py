"""One call from a source (raw layout, one file or a bundled dataset) to a written lake.

Example:
    >>> import tempfile, pathlib
    >>> opts = CleaningOptions(start="2022-11", return_type="log")
    >>> folder, result = run_cleaning(opts, dataset="sp500_index_close",
    ...                               lake_root=pathlib.Path(tempfile.mkdtemp()))
    >>> folder.name, result.returns.columns
    ('2022-52', ['timestamp', 'SP500'])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationInfo, field_validator

from algotrader.config_base import ConfigModel
from algotrader.data.cleaning import ReturnType
from algotrader.data.lake import CleanResult, clean_bars, write_lake
from algotrader.data.raw import format_month, parse_month, read_raw_layout
from algotrader.data.readers import read_bars
from algotrader.data.registry import load_dataset
from algotrader.data.timestamps import check_zone
from algotrader.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


class CleaningOptions(ConfigModel):
    """What to clean: a :class:`~algotrader.config_base.ConfigModel` (frozen, unknown keys
    refused, every error a :class:`ConfigError` naming the key; ``from_yaml`` names the file).

    Attributes:
        start: first month ``YYYY-MM`` (inclusive); ``None`` = earliest available.
        end: last month ``YYYY-MM`` (inclusive); ``None`` = latest available.
        return_type: ``simple`` (``P_t/P_{t-1} - 1``) or ``log``.
        assets: subset of assets; ``None`` = all.
        tz: IANA zone of naive input timestamps; ``None`` refuses naive timestamps.
    """

    start: str | None = None
    end: str | None = None
    return_type: ReturnType = "simple"
    assets: tuple[str, ...] | None = None
    tz: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _month(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            parse_month(value, key=str(info.field_name))
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @classmethod
    def create(cls, **values: Any) -> CleaningOptions:
        """Build and validate (:meth:`from_mapping`); a bad value raises :class:`ConfigError`
        naming the key. Options from a YAML file: :meth:`from_yaml` (names the file too).

        Example:
            >>> CleaningOptions.create(start="2024-01", return_type="cubic")
            Traceback (most recent call last):
            ...
            algotrader.errors.ConfigError: invalid CleaningOptions: Input should be 'simple' or 'log' (return_type) [key=return_type] -- fix: keys of CleaningOptions: assets, end, return_type, start, tz
        """
        return cls.from_mapping(values)


def select_period(bars: pl.DataFrame, opts: CleaningOptions, *, where: str) -> pl.DataFrame:
    """Keep the requested assets and months ``start..end`` of an in-memory bar table."""
    if opts.assets:
        have = set(bars["asset"].unique().to_list())
        unknown = [a for a in opts.assets if a not in have]
        if unknown:
            raise ConfigError(
                f"unknown asset(s) {', '.join(unknown)} in {where}",
                key="assets",
                hint=f"available: {', '.join(sorted(have))}",
            )
        bars = bars.filter(pl.col("asset").is_in(list(opts.assets)))
    ts = pl.col("timestamp")
    month = ts.dt.year().cast(pl.Int32) * 12 + ts.dt.month().cast(pl.Int32) - 1
    if opts.start:
        bars = bars.filter(month >= parse_month(opts.start, key="start"))
    if opts.end:
        bars = bars.filter(month <= parse_month(opts.end, key="end"))
    if bars.is_empty():
        raise DataError(
            f"no bars between {opts.start or 'the start'} and {opts.end or 'the end'}",
            file=where,
            hint="widen --start/--end",
        )
    return bars


def load_source(
    opts: CleaningOptions,
    *,
    data_source: str | os.PathLike[str] | None = None,
    input_file: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    on_asset: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Load bars from exactly one source; return them and a JSON-able source description."""
    given = [x is not None for x in (data_source, input_file, dataset)]
    if sum(given) != 1:
        raise ConfigError(
            "give exactly one source: a raw-layout folder, an input file or a dataset name",
            key="source",
        )
    if opts.start and opts.end and parse_month(opts.start) > parse_month(opts.end):
        raise ConfigError(f"start {opts.start} is after end {opts.end}", key="start")
    if data_source is not None:
        bars = read_raw_layout(
            data_source,
            start=opts.start,
            end=opts.end,
            assets=opts.assets,
            tz=opts.tz,
            on_asset=on_asset,
        )
        return bars, {"kind": "raw_layout", "path": str(data_source)}
    if input_file is not None:
        bars = read_bars(input_file, tz=opts.tz)
        source = {"kind": "file", "path": str(input_file)}
    else:
        assert dataset is not None
        bars = load_dataset(dataset)
        source = {"kind": "bundled_dataset", "name": dataset}
    return select_period(bars, opts, where=str(input_file or dataset)), source


def run_cleaning(
    opts: CleaningOptions,
    *,
    lake_root: str | os.PathLike[str],
    data_source: str | os.PathLike[str] | None = None,
    input_file: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    on_asset: Callable[[str], None] | None = None,
    force: bool = False,
) -> tuple[Path, CleanResult]:
    """Load, clean and write the lake; return the ``YYYY-WW`` folder and the result.

    ``force`` replaces a folder holding another version (see :func:`write_lake`).
    """
    bars, source = load_source(
        opts, data_source=data_source, input_file=input_file, dataset=dataset, on_asset=on_asset
    )
    ts = bars["timestamp"]
    source["months"] = [
        format_month(int(ts.min().year) * 12 + ts.min().month - 1),  # type: ignore[union-attr]
        format_month(int(ts.max().year) * 12 + ts.max().month - 1),  # type: ignore[union-attr]
    ]
    if opts.tz is not None:
        source["tz"] = opts.tz
    result = clean_bars(bars, return_type=opts.return_type, source=source)
    folder = write_lake(result, lake_root, force=force)
    return folder, result


__all__ = ["CleaningOptions", "load_source", "run_cleaning", "select_period"]
