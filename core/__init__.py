"""MNIST results explorer: the computing core (no user interface here)."""

from core.data import load_mnist
from core.errors import DataError, ExplorerError

__all__ = ["DataError", "ExplorerError", "load_mnist"]
