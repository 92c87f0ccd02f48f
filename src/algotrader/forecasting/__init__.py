"""Probabilistic forecasting family: NumPyro models fitted by SVI, scoring, selection.

Modules: :mod:`.scoring` (proper scores on plain arrays), :mod:`.whitening` (energy-score
whitening, spec section 7.1), :mod:`.models` (model/guide registry), :mod:`.svi` (trainer),
:mod:`.predictive`, :mod:`.selection` (spec section 8), :mod:`.allocation`,
:mod:`.diagnostics` and :mod:`.family` (the ``forecast`` simulation family).
"""

from __future__ import annotations
