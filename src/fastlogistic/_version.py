"""The package version (one place: pyproject.toml reads it, the package and
its tools import it)."""
__version__ = "0.1.0"
