"""PipelineConfig is a ConfigModel: unknown keys, bad values and cross-field errors are
ConfigErrors naming the key (and the file when read from YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrader.errors import ConfigError
from algotrader.preprocess import PipelineConfig


@pytest.mark.parametrize(
    ("values", "key", "match"),
    [
        ({"bogus": 1}, "bogus", r"Extra inputs are not permitted \(bogus\)"),
        ({"min_usable_ratio": 1.5}, "min_usable_ratio", "less than or equal to 1"),
        ({"corr_subsample": 1}, "corr_subsample", "greater than or equal to 2"),
        ({"winsor_low_q": "x"}, "winsor_low_q", "valid number"),
        ({"clip_max": "x"}, "clip_max", "valid number"),
        ({"max_abs_corr": 0.2}, "max_abs_corr", r"must be in \[0.5, 1\]"),
        ({"winsor_low_q": 0.9, "winsor_high_q": 0.1}, "winsor_low_q", "> winsor_high_q"),
        ({"clip_min": 1.0, "clip_max": 1.0}, "clip_min", "below clip_max"),
    ],
)
def test_pipeline_config_errors_name_the_key(
    values: dict[str, object], key: str, match: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        PipelineConfig(**values)
    assert info.value.key == key
    f = tmp_path / "pre.yml"
    f.write_text("".join(f"{k}: {v!r}\n" for k, v in values.items()), encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        PipelineConfig.from_yaml(f)
    assert (info.value.key, info.value.file) == (key, str(f))
