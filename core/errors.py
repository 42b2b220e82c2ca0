"""One exception tree for everything RareSight reports to a user.

Front-ends catch :class:`RareSightError` only; anything else is a bug and reaches the excepthook.
Every message says what happened, which file, and what to do.
"""

from __future__ import annotations


class RareSightError(Exception):
    """Base of every error a front-end shows to the user."""


class ImageReadError(RareSightError):
    """A file could not be read as an image.

    The message names the file, the reason and what to do.
    """

    def __init__(self, path: object, reason: str, advice: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.advice = advice
        message = f"{self.path}: {reason}"
        if advice:
            message += f"; {advice}"
        super().__init__(message)


class ProjectError(RareSightError):
    """A project file could not be opened, read or written."""


class ModelError(RareSightError):
    """A model or backbone file is missing, malformed or incompatible."""


class NotFittedError(RareSightError):
    """An estimator was used before ``fit``."""


class Cancelled(RareSightError):
    """Long work was cancelled through its cancel token."""
