"""One (fold, candidate, split) evaluation, and the outer walk-forward evaluation of a config.

:class:`Evaluator` is what every engine ships to its workers (pickled once per worker, or
``ray.put`` once): the data, the CV structure, the candidates and the config. Its family
instance is created lazily in each process and never pickled.

Inner evaluation (one score): params = ``model.params`` with the candidate applied;
preprocessing fitted on the split's train rows (identity for now); ``fit`` on the train rows,
``decide`` on the test rows, net returns through the backtest with the run's cost model,
then the configured scorer. ``simulation_mode: stub`` scores 0.0 without calling the family.

Outer evaluation: the test block is cut into chunks of ``outer.refit_every`` rows (one chunk
when null); each chunk is decided by a fit on the outer train rows plus the earlier test rows
whose labels end before the chunk starts (purged), so a fold never sees its own future.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from algotrader.simulation.config import SimulationConfig
from algotrader.simulation.family import (
    Decision,
    Family,
    FamilyContext,
    FloatArray,
    IntArray,
    SimulationData,
    get_family,
)
from algotrader.simulation.scoring import get_scorer, net_returns
from algotrader.simulation.structure import CVStructure, OuterFold
from algotrader.tuning import Candidate, apply_candidate

__all__ = ["Evaluator", "FoldObjective", "call_seed"]


def call_seed(seed: int, outer_k: int, split_id: int, candidate_id: int) -> int:
    """A deterministic 31-bit seed for one family call."""
    return (seed * 1_000_003 + (outer_k + 1) * 10_007 + (split_id + 1) * 101 + candidate_id + 1) % (
        2**31 - 1
    )


@dataclass
class Evaluator:
    """Everything needed to score a (fold, candidate, split) anywhere (see module doc)."""

    cfg: SimulationConfig
    data: SimulationData
    structure: CVStructure
    candidates: list[Candidate]
    token: str
    _family: Family | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_family"] = None
        return state

    @property
    def family(self) -> Family:
        """This process's family instance."""
        if self._family is None:
            import algotrader.simulation.families  # noqa: F401  (registers built-ins)

            self._family = get_family(self.cfg.family)
        return self._family

    def fold(self, k: int) -> OuterFold:
        """The outer fold with test group ``k``."""
        for f in self.structure.folds:
            if f.k == k:
                return f
        raise KeyError(k)

    def params(self, candidate: int | Candidate) -> dict[str, Any]:
        """``model.params`` with a candidate (or candidate id) applied (-1: base params)."""
        base = {"model": {"params": dict(self.cfg.model.params)}}
        if isinstance(candidate, int):
            if candidate < 0:
                return base["model"]["params"]
            candidate = self.candidates[candidate]
        out = apply_candidate(base, candidate.params)
        return dict(out["model"]["params"])

    def objectives(self) -> dict[int, FoldObjective]:
        """One :class:`FoldObjective` per outer fold (fold id -> objective)."""
        return {f.k: FoldObjective(self, f.k) for f in self.structure.folds}

    def preprocessed(self, train_idx: IntArray) -> SimulationData:
        """The data with ``X`` cleaned and scaled by a fit on ``train_idx`` only."""
        if self.cfg.preprocessing.method == "identity" or self.data.X is None:
            return self.data
        from algotrader import preprocess

        pcfg = self.cfg.preprocessing.pipeline
        state = preprocess.fit(
            self.data.X, self.data.x_mask, train_idx, pcfg, features=self.data.features
        )
        preprocess.transform(state, self.data.X, self.data.x_mask, train_idx)  # fail-fast check
        rows = np.arange(self.data.n_dates)
        x, m = preprocess.transform(state, self.data.X, self.data.x_mask, rows, check=False)
        names = state.kept_names
        if x.shape[2] != len(names):
            names = (*names, *(f"{n}::observed" for n in names))
        return replace(self.data, X=x, x_mask=m, features=names)

    def score(self, k: int, candidate: Candidate, split_id: int) -> float:
        """Score of ``candidate`` on inner split ``split_id`` of fold ``k``."""
        if self.cfg.simulation_mode == "stub":
            return 0.0
        split = self.fold(k).splits[split_id]
        params = self.params(candidate)
        ctx = FamilyContext(
            phase="inner",
            outer_k=k,
            split_id=split_id,
            candidate_id=candidate.id,
            seed=call_seed(self.cfg.seed, k, split_id, candidate.id),
            cost=self.cfg.cost,
            num_samples=self.cfg.predictive.num_samples_inner,
        )
        fam = self.family
        data = self.preprocessed(split.train)
        state = fam.fit(data, split.train, params, ctx)
        dec = fam.decide(state, data, split.test, params, ctx)
        dec.check(split.test.size, data.n_assets, self.cfg.family)
        net = dec.returns
        if net is None:
            net = net_returns(data, split.test, dec.weights, self.cfg.cost)
        return float(get_scorer(self.cfg.scoring.metric_name, fam)(data, split.test, dec, net, ctx))

    # ------------------------------------------------------------------ outer
    def outer_weights(self, k: int, candidate_id: int, family: Family | None = None) -> Decision:
        """Weights over fold ``k``'s test block for a candidate (-1 = base params)."""
        fold = self.fold(k)
        fam = family if family is not None else self.family
        params = self.params(candidate_id) if family is None else {}
        test = fold.test_idx
        step = self.cfg.outer.refit_every or test.size
        h = self.cfg.cv.horizon
        parts = []
        returns: list[FloatArray | None] = []
        payload: dict[str, Any] = {}
        for j in range(0, test.size, step):
            chunk = test[j : j + step]
            earlier = test[:j]
            earlier = earlier[earlier + h <= chunk[0]]
            train = np.concatenate([fold.train_idx, earlier]).astype(np.int64)
            ctx = FamilyContext(
                phase="outer",
                outer_k=k,
                split_id=-1,
                candidate_id=candidate_id,
                seed=call_seed(self.cfg.seed, k, -1, candidate_id),
                cost=self.cfg.cost,
                num_samples=self.cfg.predictive.num_samples_outer,
                stub=self.cfg.simulation_mode == "stub",
            )
            data = self.preprocessed(train)
            state = fam.fit(data, train, params, ctx)
            dec = fam.decide(state, data, chunk, params, ctx)
            dec.check(chunk.size, self.data.n_assets, getattr(fam, "name", "?"))
            parts.append(dec.weights)
            returns.append(dec.returns)
            payload[f"chunk_{j}"] = dict(dec.payload)
        done = [r for r in returns if r is not None]
        own = np.concatenate(done) if len(done) == len(returns) else None
        return Decision(np.concatenate(parts, axis=0), payload=payload, returns=own)


@dataclass(frozen=True)
class FoldObjective:
    """Outer fold ``k`` as a :class:`~algotrader.tuning.SplitObjective` (its inner splits)."""

    ev: Evaluator
    k: int

    @property
    def split_ids(self) -> tuple[int, ...]:
        """The fold's inner split ids ``0..n-1``."""
        return tuple(range(len(self.ev.fold(self.k).splits)))

    def evaluate(self, candidate: Candidate, split: int) -> float:
        """:meth:`Evaluator.score` of the candidate on inner split ``split``."""
        return self.ev.score(self.k, candidate, split)
