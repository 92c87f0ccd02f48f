"""Downloaded months go straight into data-cleaning and the feature store (fake server)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from algotrader.data.lake import clean_bars, write_lake
from algotrader.data.providers import FakeClock, TickersConfig, alpaca_pacer, download_history
from algotrader.data.providers.alpaca import AlpacaProvider
from algotrader.data.raw import read_raw_layout
from algotrader.features import compute_features, load_feature_panel, load_lake_inputs, write_group

from .fakes import AlpacaState, alpaca_server


@pytest.mark.slow
def test_download_clean_features(tmp_path: Path) -> None:
    cfg = TickersConfig.model_validate(
        {"provider": "alpaca", "stocks": {"tickers": ["AAA", "BBB"]}}
    )
    inst = cfg.instruments()
    clock = FakeClock()
    raw = tmp_path / "raw"
    with alpaca_server(AlpacaState(fail_once=[], page_size=500)) as url:
        env = {
            "ALPACA_DATA_URL": url,
            "ALPACA_API_KEY_ID": "test-key",
            "ALPACA_API_SECRET_KEY": "test-secret",
        }
        prov = AlpacaProvider({i.asset: i for i in inst}, env=env, pacer=alpaca_pacer(1, clock))
        report = download_history(
            prov,
            inst,
            start="2022-01",
            end="2023-06",
            root=raw,
            bar_size=cfg.size,
            clock=clock,
            now=dt.datetime(2023, 7, 3, tzinfo=dt.UTC),
        )
    assert report.count("downloaded") == 36
    bars = read_raw_layout(raw, start="2022-01", end="2023-06")
    lake = write_lake(clean_bars(bars, source={"provider": "alpaca"}), tmp_path / "lake")
    inputs = load_lake_inputs(lake)
    results = compute_features(inputs)
    store = tmp_path / "features"
    for result in results.values():
        write_group(store, result, inputs)
    fp = load_feature_panel(store, lake)
    assert fp.X.values.ndim == 3 and fp.X.assets == ("AAA", "BBB")
    assert fp.X.n_dates == fp.y.n_dates > 60
    # after the longest warm-up every feature of the momentum group is observed
    mom = [i for i, f in enumerate(fp.X.features or ()) if f.startswith("momentum::")]
    assert fp.X.mask[-5:, :, mom].all()
    assert np.isfinite(fp.X.values[fp.X.mask]).all()
