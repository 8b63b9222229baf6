"""Typed errors that carry a one-line message meant for a user.

Every bad input (file, CSV, DICOM, flag) raises a subclass of :class:`HcviewError`.
The CLI prints ``str(err)`` and exits non-zero; the UI shows it with ``st.error``.
No traceback reaches a user.
"""


class HcviewError(Exception):
    """Base class. ``str(err)`` is a single line, written for the person who caused it."""

    exit_code = 2

    def __init__(self, message: str):
        message = " ".join(str(message).split())  # always one line
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class InputError(HcviewError):
    """A file or value supplied by the user cannot be used."""


class ImageError(InputError):
    """An image (PNG/JPEG) cannot be read or is outside the accepted limits."""


class DicomError(InputError):
    """A DICOM file cannot be read, decoded or displayed."""


class CsvError(InputError):
    """A CSV file is unreadable or lacks required columns."""


class DatasetError(InputError):
    """A dataset root or ``--data`` spec cannot be resolved."""


class ModelError(HcviewError):
    """Unknown model id/variant, or a model that cannot be built."""


class CheckpointError(HcviewError):
    """A checkpoint is missing, tampered with, truncated or does not match its card."""


class JobError(HcviewError):
    """A background job cannot be found, started or cancelled."""
