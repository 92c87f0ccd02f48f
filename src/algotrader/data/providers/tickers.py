"""``config/tickers.yml``: which instruments to download, from which provider, how.

Sections ``stocks``, ``forex``, ``indices``, ``commodities`` (IB) and ``crypto`` (Alpaca), each
with ``contract_defaults`` {sec_type, exchange, currency, what_to_show} and ``tickers``. A ticker
is a string or a mapping {symbol, currency, exchange, sec_type, what_to_show, asset}. Forex
tickers may be ``BASE.QUOTE``, ``BASEQUOTE`` or {symbol: BASE, currency: QUOTE}; forex,
commodity and crypto instruments are stored under ``BASE.QUOTE`` folders. Every asset folder
name is checked against a safe character set (letters, digits, ``.``, ``_``, ``-``).

Example:
    >>> cfg = TickersConfig.from_mapping({"provider": "ib", "forex": {"tickers": ["EURUSD"]},
    ...                                   "stocks": {"tickers": ["AAPL"]}})
    >>> [(i.asset, i.symbol, i.currency, i.sec_type) for i in cfg.instruments()]
    [('AAPL', 'AAPL', 'USD', 'STK'), ('EUR.USD', 'EUR', 'USD', 'CASH')]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator

from algotrader.config_base import ConfigModel
from algotrader.data.providers.base import BarSize, parse_bar_size
from algotrader.errors import ConfigError

__all__ = ["Instrument", "TickersConfig", "load_tickers"]

SAFE_ASSET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
Section = Literal["stocks", "forex", "indices", "commodities", "crypto"]

_DEFAULTS: dict[str, dict[str, str]] = {
    "stocks": {"sec_type": "STK", "exchange": "SMART", "currency": "USD", "what_to_show": "TRADES"},
    "forex": {
        "sec_type": "CASH",
        "exchange": "IDEALPRO",
        "currency": "USD",
        "what_to_show": "MIDPOINT",
    },
    "indices": {"sec_type": "IND", "exchange": "CBOE", "currency": "USD", "what_to_show": "TRADES"},
    "commodities": {
        "sec_type": "CMDTY",
        "exchange": "SMART",
        "currency": "USD",
        "what_to_show": "MIDPOINT",
    },
    "crypto": {
        "sec_type": "CRYPTO",
        "exchange": "ALPACA",
        "currency": "USD",
        "what_to_show": "TRADES",
    },
}


@dataclass(frozen=True)
class Instrument:
    """One resolved instrument: its folder name (``asset``) and its contract fields."""

    asset: str
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    what_to_show: str
    section: str


class ContractDefaults(ConfigModel):
    """Contract fields applied to every ticker of a section unless the ticker overrides them."""

    sec_type: str | None = None
    exchange: str | None = None
    currency: str | None = None
    what_to_show: str | None = None


class TickerSpec(ConfigModel):
    """A ticker given as a mapping."""

    symbol: str = Field(min_length=1)
    currency: str | None = None
    exchange: str | None = None
    sec_type: str | None = None
    what_to_show: str | None = None
    asset: str | None = None


class SectionConfig(ConfigModel):
    """One section: defaults + tickers."""

    contract_defaults: ContractDefaults = ContractDefaults()
    tickers: tuple[str | TickerSpec, ...] = ()


class TickersConfig(ConfigModel):
    """The whole ``tickers.yml``."""

    provider: Literal["ib", "alpaca"] = "ib"
    bar_size: str = "1 hour"
    use_rth: bool = False
    feed: Literal["iex", "sip"] = "iex"
    adjustment: Literal["raw", "split", "dividend", "all"] = "raw"
    stocks: SectionConfig = SectionConfig()
    forex: SectionConfig = SectionConfig()
    indices: SectionConfig = SectionConfig()
    commodities: SectionConfig = SectionConfig()
    crypto: SectionConfig = SectionConfig()

    @field_validator("bar_size")
    @classmethod
    def _bar_size(cls, v: str) -> str:
        parse_bar_size(v)
        return v

    @property
    def size(self) -> BarSize:
        """The parsed bar size."""
        return parse_bar_size(self.bar_size)

    def instruments(self) -> list[Instrument]:
        """Every ticker resolved, in section then file order; duplicate assets refused."""
        out: list[Instrument] = []
        for section in ("stocks", "forex", "indices", "commodities", "crypto"):
            cfg: SectionConfig = getattr(self, section)
            for i, t in enumerate(cfg.tickers):
                out.append(_resolve(section, cfg.contract_defaults, t, i))
        seen: set[str] = set()
        for inst in out:
            if inst.asset in seen:
                raise ConfigError(
                    f"asset {inst.asset!r} listed twice", key=f"{inst.section}.tickers"
                )
            seen.add(inst.asset)
        return out


def _split_pair(text: str) -> tuple[str, str] | None:
    for sep in (".", "/"):
        if sep in text:
            base, quote = text.split(sep, 1)
            return base, quote
    if len(text) == 6 and text.isalpha():
        return text[:3], text[3:]
    return None


def _resolve(section: str, defaults: ContractDefaults, t: str | TickerSpec, i: int) -> Instrument:
    key = f"{section}.tickers[{i}]"
    if isinstance(t, str) and not t.strip():
        raise ConfigError(f"{section} ticker {i} is empty", key=key, hint="write a symbol")
    spec = TickerSpec(symbol=t) if isinstance(t, str) else t
    fields = dict(_DEFAULTS[section])
    fields.update({k: v for k, v in defaults.model_dump().items() if v is not None})
    fields.update({k: v for k, v in spec.model_dump().items() if v is not None and k != "asset"})
    symbol = spec.symbol.strip().upper()
    if section in ("forex", "commodities", "crypto"):
        pair = _split_pair(symbol)
        if pair is not None:
            symbol, fields["currency"] = pair
        elif spec.currency is None and section != "commodities":
            raise ConfigError(
                f"{section} ticker {spec.symbol!r} has no quote currency",
                key=key,
                hint="write BASE.QUOTE (e.g. EUR.USD) or {symbol: EUR, currency: USD}",
            )
        asset = spec.asset or f"{symbol}.{fields['currency']}"
    else:
        asset = spec.asset or symbol
    if not SAFE_ASSET.match(asset):
        raise ConfigError(
            f"asset name {asset!r} has characters outside [A-Za-z0-9._-]",
            key=key,
            hint="set `asset:` to a plain folder name",
        )
    return Instrument(
        asset=asset,
        symbol=symbol,
        sec_type=fields["sec_type"],
        exchange=fields["exchange"],
        currency=fields["currency"],
        what_to_show=fields["what_to_show"],
        section=section,
    )


def load_tickers(path: str | os.PathLike[str]) -> TickersConfig:
    """Read and validate ``tickers.yml``; errors name the file and the key."""
    p = Path(path)
    try:
        raw: Any = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read tickers config ({exc.strerror})", file=str(p)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"tickers config is not valid YAML ({exc})", file=str(p)) from exc
    if not isinstance(raw, dict):
        raise ConfigError("tickers config must be a mapping", file=str(p))
    cfg = TickersConfig.from_mapping(raw, source=p)  # ConfigError naming the key and file
    try:
        cfg.instruments()
    except ConfigError as exc:
        raise ConfigError(exc.message, file=str(p), key=exc.key, hint=exc.hint) from exc
    return cfg
