"""``algotrader data-cleaning`` (also ``data_cleaning``): bars -> daily/weekly lake."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import polars as pl
import typer
from rich.table import Table

from algotrader.cli._common import make_table, state
from algotrader.data.lake import CleanResult
from algotrader.data.raw import list_raw_assets
from algotrader.data.service import CleaningOptions, run_cleaning
from algotrader.errors import ConfigError


class ReturnChoice(StrEnum):
    """Weekly return definition."""

    simple = "simple"
    log = "log"


def _assets(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    if not names:
        raise ConfigError("--assets is empty", key="assets", hint="use e.g. --assets EURUSD,GOLD")
    return names


def _summary(folder: Path, result: CleanResult) -> Table:
    table = make_table("Data cleaning")
    table.add_column("item")
    table.add_column("value")
    daily, weekly = result.daily, result.weekly
    rows = [
        ("assets", ", ".join(result.manifest["assets"])),
        (
            "daily range",
            f"{result.daily_meta['start'][:10]} .. {result.daily_meta['end'][:10]}"
            f" ({daily['date'].n_unique()} days)",
        ),
        ("weeks", str(weekly["week_start"].n_unique())),
        ("missing daily cells", str(daily.filter(pl.col("n_bars") == 0).height)),
        ("missing weekly returns", str(int(result.tensor.missing.sum()))),
        ("return type", result.return_type),
    ]
    for item, value in rows:
        table.add_row(item, value)
    return table


def data_cleaning(
    start: str = typer.Option(..., "--start", help="First month, YYYY-MM (inclusive)."),
    end: str | None = typer.Option(None, "--end", help="Last month, YYYY-MM; default latest."),
    return_type: ReturnChoice = typer.Option(
        ReturnChoice.simple,
        "--return-type",
        help="simple: P_t/P_{t-1}-1; log: log P_t - log P_{t-1}.",
    ),
    assets: str | None = typer.Option(
        None, "--assets", help="Comma-separated assets; default all."
    ),
    tz: str | None = typer.Option(
        None, "--tz", help="IANA zone of naive input timestamps (refused without it)."
    ),
    input_file: Path | None = typer.Option(
        None, "--input", help="Clean one long or wide CSV/Parquet file instead of DATA_SOURCE."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Clean a bundled dataset (see `algotrader datasets`)."
    ),
    data_source: Path | None = typer.Option(
        None, "--data-source", help="Raw layout folder; default DATA_SOURCE."
    ),
    lake: Path | None = typer.Option(None, "--lake", help="Lake root; default DATA_LAKE_SOURCE."),
    force: bool = typer.Option(
        False, "--force", help="Replace a week folder that holds another dataset/asset set."
    ),
) -> None:
    """Clean bars into DATA_LAKE_SOURCE/YYYY-WW/: daily/weekly OHLC, weekly returns, return tensor."""
    st = state()
    settings = st.get_settings()
    opts = CleaningOptions.create(
        start=start, end=end, return_type=return_type.value, assets=_assets(assets), tz=tz
    )
    if input_file is not None and dataset is not None:
        raise ConfigError("give --input or --dataset, not both", key="input")
    raw = None
    if input_file is None and dataset is None:
        raw = data_source or settings.data_source
    lake_root = lake or settings.data_lake_source
    with st.progress() as prog:
        if raw is not None:
            n = len(opts.assets) if opts.assets else len(list_raw_assets(raw))
            task = prog.add_task("loading assets", total=n)

            def on_asset(_: str) -> None:
                prog.advance(task)

        else:
            task = prog.add_task(f"loading {input_file or dataset}", total=1)
            on_asset = None  # type: ignore[assignment]
        folder, result = run_cleaning(
            opts,
            lake_root=lake_root,
            data_source=raw,
            input_file=input_file,
            dataset=dataset,
            on_asset=on_asset,
            force=force,
        )
        if raw is None:
            prog.advance(task)
    st.console.print(_summary(folder, result))
    st.console.print(f"lake folder: {folder}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``data-cleaning`` and its hidden alias ``data_cleaning``."""
    app.command("data-cleaning")(data_cleaning)
    app.command("data_cleaning", hidden=True)(data_cleaning)
