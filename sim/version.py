"""The package version (one place; `import sim` re-exports it)."""

__version__ = "0.1.0"
