"""``algotrader feature-engineering`` and ``algotrader data-processing`` (also snake_case).

feature-engineering: compute feature groups from a data-lake version into
``FEATURE_STORE_SOURCE/<version>/<group>/`` with a progress bar per group and a summary
table (features, rows, warm-up/degenerate/missing counts per feature).

data-processing: run an exploratory preprocessor (identity, zscore, pca) on the lake's
weekly returns into ``FEATURE_STORE_SOURCE/<preprocessor>/<pipeline>/<version>/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import typer

from algotrader.cli._common import make_table, state
from algotrader.errors import ConfigError, DataError


def _lake_folder(lake: Path | None, version: str | None) -> Path:
    from algotrader.data.lake import latest_lake

    root = lake or state().get_settings().data_lake_source
    if version is None:
        return latest_lake(root)
    return Path(root) / version


def feature_engineering(
    group: list[str] = typer.Option(
        None,
        "--group",
        "-g",
        help="Group to compute (repeatable) or 'all'; default: the config's groups.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="features.yml; default every group and key."
    ),
    version: str | None = typer.Option(
        None, "--version", help="Lake version YYYY-WW; default latest."
    ),
    lake: Path | None = typer.Option(None, "--lake", help="Lake root; default DATA_LAKE_SOURCE."),
    store: Path | None = typer.Option(
        None, "--store", help="Feature store root; default FEATURE_STORE_SOURCE."
    ),
) -> None:
    """Compute feature groups from the data lake into the feature store."""
    from algotrader.features.config import load_feature_config
    from algotrader.features.context import FeatureContext
    from algotrader.features.engine import compute_group, options_of
    from algotrader.features.inputs import load_lake_inputs
    from algotrader.features.registry import get_group
    from algotrader.features.store import write_group

    st = state()
    cfg = load_feature_config(config)
    names = list(cfg.groups) if not group or group == ["all"] else list(dict.fromkeys(group))
    if "all" in names:
        raise ConfigError("'all' cannot be combined with other --group values", key="group")
    for n in names:
        get_group(n)
    missing = [n for n in names if n not in cfg.groups]
    if missing:
        raise ConfigError(
            f"group {missing[0]} is not in the feature config", key=f"groups.{missing[0]}"
        )
    folder = _lake_folder(lake, version)
    inputs = load_lake_inputs(folder)
    root = store or st.get_settings().feature_store_source
    ctx = FeatureContext(inputs, options_of(cfg))
    results = {}
    with st.progress() as prog:
        for n in names:
            task = prog.add_task(f"{n}", total=2)
            try:
                res = compute_group(inputs, n, cfg, ctx=ctx)
            except DataError as exc:  # the week/asset is named; the lake folder is known here
                raise exc.located(file=str(folder)) from exc
            prog.advance(task)
            write_group(root, res, inputs, cfg)
            prog.advance(task)
            results[n] = res
    table = make_table(f"Feature store {Path(root) / inputs.version}")
    for col in ("group", "feature", "rows", "ok", "warmup", "degenerate", "missing"):
        table.add_column(col, justify="left" if col in ("group", "feature") else "right")
    for n, res in results.items():
        for f, c in res.status_counts().items():
            table.add_row(
                n,
                f,
                str(res.values.shape[0]),
                *(str(c[k]) for k in ("ok", "warmup", "degenerate", "missing")),
            )
    st.console.print(table)
    st.console.print(f"run directory: {Path(root) / inputs.version}")


def data_processing(
    preprocessor: str = typer.Option(..., "--preprocessor", help="identity, zscore or pca."),
    preprocessor_arg: list[str] = typer.Option(
        None,
        "--preprocessor-arg",
        help="k=v (repeatable): start_date, end_date, missing, pipeline, k, variance, copy.",
    ),
    version: str | None = typer.Option(
        None, "--version", help="Lake version YYYY-WW; default latest."
    ),
    lake: Path | None = typer.Option(None, "--lake", help="Lake root; default DATA_LAKE_SOURCE."),
    store: Path | None = typer.Option(
        None, "--store", help="Output root; default FEATURE_STORE_SOURCE."
    ),
) -> None:
    """Exploratory preprocessing of the lake's weekly returns (fits on the whole range)."""
    from algotrader.data.panel import Panel
    from algotrader.features.store import write_npz_deterministic
    from algotrader.io import write_json_atomic, write_parquet_atomic
    from algotrader.preprocess.exploratory import parse_args, run_exploratory

    st = state()
    args = parse_args(list(preprocessor_arg or []))
    folder = _lake_folder(lake, version)
    panel = Panel.from_lake(folder, "returns")
    pipeline, out = run_exploratory(preprocessor, panel, args)
    root = store or st.get_settings().feature_store_source
    dest = Path(root) / preprocessor / pipeline / folder.name
    meta: dict[str, object] = {
        "preprocessor": preprocessor,
        "args": args,
        "lake_version": folder.name,
        "exploratory": True,
        "note": "fitted on the whole range; never use inside cross-validation",
    }

    def wide(dates: np.ndarray, names: list[str], values: np.ndarray) -> pl.DataFrame:
        cols: dict[str, object] = {
            "timestamp": pl.Series(dates.astype("datetime64[us]")).dt.replace_time_zone("UTC")
        }
        cols.update({n: values[:, i] for i, n in enumerate(names)})
        return pl.DataFrame(cols)

    if "panel" in out:
        p = out["panel"]
        write_parquet_atomic(dest / "processed.parquet", p.to_wide("timestamp"))
        meta["rows"] = p.n_dates
    else:
        z = out["zscore"] if "zscore" in out else out["pca"].zscore
        write_parquet_atomic(dest / "processed.parquet", wide(z.dates, list(z.assets), z.values))
        write_npz_deterministic(
            dest / "processed.npz",
            {
                "values": z.values,
                "mask": z.mask,
                "timestamps": z.dates.astype("datetime64[us]"),
                "assets": np.array(z.assets, dtype=np.str_),
            },
        )
        meta.update(
            rows=int(z.values.shape[0]),
            mean_ref=dict(zip(z.assets, z.mean.tolist(), strict=True)),
            std_ref=dict(zip(z.assets, z.std.tolist(), strict=True)),
        )
        if "pca" in out:
            r = out["pca"]
            k = r.factors.shape[1]
            write_parquet_atomic(
                dest / "factors.parquet", wide(z.dates, [f"pc{i + 1}" for i in range(k)], r.factors)
            )
            write_parquet_atomic(
                dest / "loadings.parquet",
                pl.DataFrame(
                    {"asset": list(z.assets), **{f"pc{i + 1}": r.loadings[:, i] for i in range(k)}}
                ),
            )
            write_parquet_atomic(
                dest / "eigenvalues.parquet",
                pl.DataFrame(
                    {"value": r.eigenvalues, "explained": r.explained, "cumulative": r.cumulative}
                ),
            )
            meta["k"] = k
    write_json_atomic(dest / "metadata.json", meta)
    st.console.print(f"run directory: {dest}")


def register(app: typer.Typer) -> None:
    """Add ``feature-engineering``, ``data-processing`` and their snake_case aliases."""
    fe = "Example: algotrader feature-engineering --group momentum --group regime --version 2022-52 --quiet"
    dp = "Example: algotrader data-processing --preprocessor pca --preprocessor-arg k=3 --quiet"
    app.command("feature-engineering", epilog=fe)(feature_engineering)
    app.command("feature_engineering", hidden=True, epilog=fe)(feature_engineering)
    app.command("data-processing", epilog=dp)(data_processing)
    app.command("data_processing", hidden=True, epilog=dp)(data_processing)
