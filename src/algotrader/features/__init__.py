"""Feature store: 7 groups (45 features) from the data lake, the X/y panel they feed.

Public API:

* :func:`~algotrader.features.inputs.load_lake_inputs` -> :class:`LakeInputs`
* :func:`~algotrader.features.engine.compute_features` / :func:`compute_group` -> :class:`GroupResult`
* :func:`~algotrader.features.store.write_group` / :func:`read_group`
* :func:`~algotrader.features.panel.build_feature_panel`, :func:`load_feature_panel`,
  :func:`assemble_panel` -> :class:`FeaturePanel` (``X``: 3-d Panel, ``y``: 2-d Panel)
* :class:`~algotrader.features.config.FeatureConfig`, :func:`load_feature_config`
* the registry: :data:`GROUPS`, :func:`all_features`, :func:`feature_table_markdown`
"""

from __future__ import annotations

from algotrader.features.common import STATUS_NAMES, FeatureDef, GroupResult, Options
from algotrader.features.config import FeatureConfig, load_feature_config, parse_feature_config
from algotrader.features.engine import compute_features, compute_group
from algotrader.features.inputs import (
    LakeInputs,
    inputs_from_arrays,
    load_lake_inputs,
    synthetic_inputs,
)
from algotrader.features.panel import (
    FeaturePanel,
    assemble_panel,
    build_feature_panel,
    load_feature_panel,
)
from algotrader.features.registry import GROUP_ORDER, GROUPS, all_features, feature_table_markdown
from algotrader.features.store import read_group, store_groups, write_group

__all__ = [
    "GROUPS",
    "GROUP_ORDER",
    "STATUS_NAMES",
    "FeatureConfig",
    "FeatureDef",
    "FeaturePanel",
    "GroupResult",
    "LakeInputs",
    "Options",
    "all_features",
    "assemble_panel",
    "build_feature_panel",
    "compute_features",
    "compute_group",
    "feature_table_markdown",
    "inputs_from_arrays",
    "load_feature_config",
    "load_feature_panel",
    "load_lake_inputs",
    "parse_feature_config",
    "read_group",
    "store_groups",
    "synthetic_inputs",
    "write_group",
]
