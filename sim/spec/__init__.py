"""Scenario files: validation, claims and the parameter map (the lowest layer)."""
