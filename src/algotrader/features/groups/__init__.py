"""The seven feature groups, one module each (see :mod:`algotrader.features.registry`)."""
