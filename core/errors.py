"""The one exception type a user of this project can cause, and its families."""


class ExplorerError(Exception):
    """Something the user can fix: a wrong data folder, a corrupt file, a bad input.

    The message always says what was expected and what was found.
    """


class DataError(ExplorerError):
    """MNIST files that are missing, unreadable or not the expected ones."""
