"""Presentation: plots, reports, the terminal view of a scenario and the interactive app."""
