"""Bridges to other toolkits: :mod:`sim.integrations.ema` (the EMA Workbench)."""
