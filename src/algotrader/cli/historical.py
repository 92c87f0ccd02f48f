"""``algotrader historical``: download bars from Interactive Brokers or Alpaca into DATA_SOURCE."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from algotrader.cli._common import make_table, state
from algotrader.errors import ConfigError

_EXAMPLE = (
    "Example: algotrader historical --provider alpaca --config config/tickers_alpaca.yml "
    "--start 2024-01 --end 2024-06 --symbols AAPL,BTC.USD"
)


def register(app: typer.Typer) -> None:
    """Add the ``historical`` command to ``app``."""

    @app.command("historical", help=f"Download historical bars month by month.\n\n{_EXAMPLE}")
    def historical(
        provider: str | None = typer.Option(
            None, "--provider", help="ib | alpaca (default: the config's provider)."
        ),
        config: Path = typer.Option(
            Path("config/tickers.yml"), "--config", help="tickers.yml with the instruments."
        ),
        start: str = typer.Option(..., "--start", help="First month, YYYY-MM."),
        end: str | None = typer.Option(None, "--end", help="Last month, YYYY-MM (default: now)."),
        symbols: str | None = typer.Option(
            None, "--symbols", help="Comma-separated asset names (default: all in the config)."
        ),
        force: bool = typer.Option(False, "--force", help="Download completed months again."),
    ) -> None:

        from algotrader.data.providers import load_tickers
        from algotrader.data.providers.download import download_history
        from algotrader.data.providers.factory import make_provider

        st = state()
        settings = st.get_settings()
        cfg = load_tickers(config)
        name = provider or cfg.provider
        if name not in ("ib", "alpaca"):
            raise ConfigError(f"unknown provider {name!r}", key="provider", hint="use ib or alpaca")
        instruments = cfg.instruments()
        if symbols:
            wanted = [s.strip() for s in symbols.split(",") if s.strip()]
            known = {i.asset for i in instruments}
            bad = [s for s in wanted if s not in known]
            if bad:
                raise ConfigError(
                    f"symbol {bad[0]!r} is not in the config", file=str(config), key="symbols"
                )
            instruments = [i for i in instruments if i.asset in wanted]
        end_month = end or dt.datetime.now(dt.UTC).strftime("%Y-%m")
        from algotrader.data.raw import parse_month

        n_months = parse_month(end_month, key="end") - parse_month(start) + 1
        source = make_provider(name, cfg, instruments, settings.max_parallel_requests)
        with st.progress() as prog:
            task = prog.add_task("months", total=max(n_months, 0) * len(instruments))

            def advance(result: object) -> None:
                prog.update(
                    task,
                    advance=1,
                    description=f"{getattr(result, 'asset', '')} {getattr(result, 'month', '')}",
                )

            report = download_history(
                source,
                instruments,
                start=start,
                end=end_month,
                root=settings.data_source,
                bar_size=cfg.size,
                force=force,
                on_month=advance,
            )
        table = make_table(f"historical ({name}) -> {settings.data_source}")
        for col in ("status", "months"):
            table.add_column(col)
        for status in ("downloaded", "partial", "skipped", "no_data", "failed"):
            table.add_row(status, str(report.count(status)))
        st.console.print(table)
        for r in report.failed:
            st.console.print(f"[red]failed[/] {r.asset} {r.month}: {r.error}", markup=True)
        if report.failed:
            raise typer.Exit(code=1)
