"""Build a provider by name from ``tickers.yml`` and the environment."""

from __future__ import annotations

from collections.abc import Sequence

from algotrader.data.providers.alpaca import AlpacaProvider
from algotrader.data.providers.base import Provider
from algotrader.data.providers.ib import IBProvider, connect_ib, ib_settings
from algotrader.data.providers.pacing import alpaca_pacer, ib_pacer
from algotrader.data.providers.tickers import Instrument, TickersConfig
from algotrader.errors import ConfigError

__all__ = ["make_provider"]


def make_provider(
    name: str, cfg: TickersConfig, instruments: Sequence[Instrument], max_parallel: int
) -> Provider:
    """``ib`` (connects to TWS/Gateway at IB_HOST:IB_PORT) or ``alpaca``."""
    table = {i.asset: i for i in instruments}
    if name == "ib":
        host, port, client_id = ib_settings()
        return IBProvider(
            connect_ib(host, port, client_id),
            table,
            use_rth=cfg.use_rth,
            pacer=ib_pacer(max_parallel),
        )
    if name == "alpaca":
        return AlpacaProvider(
            table, feed=cfg.feed, adjustment=cfg.adjustment, pacer=alpaca_pacer(max_parallel)
        )
    raise ConfigError(f"unknown provider {name!r}", key="provider", hint="use ib or alpaca")
