"""Analysis of results: outcomes, sensitivity and scenario discovery."""
