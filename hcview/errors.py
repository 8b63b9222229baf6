"""Typed errors that carry a one-line message meant for a user.

Every bad input (file, CSV, DICOM, flag) raises a subclass of :class:`HcviewError`.
The CLI prints ``str(err)`` and exits non-zero; the UI shows it with ``st.error``.
No traceback reaches a user: :func:`describe` turns *any* exception into one line and an exit status
(2: the user's input or environment; 1: an internal error), for the CLI and the UI alike.
"""
import errno


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


# OS errors that name a file the user gave (or a place they asked us to write to)
_USER_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EEXIST,
                errno.ENOSPC, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP, errno.EDQUOT, errno.EFBIG}


def _one_line(text, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def describe(err: BaseException) -> tuple[str, int]:
    """``(one-line message, exit status)`` for any exception.

    Status 2: a user error (a typed :class:`HcviewError`, a file that is missing / a folder / not writable /
    already exists, a disk that is full, not enough memory for an input); 130: interrupted; 1: anything
    else, worded as an internal error (the CLI shows its traceback only under ``--debug``).
    """
    if isinstance(err, HcviewError):
        return str(err), int(getattr(err, "exit_code", 2) or 2)
    if isinstance(err, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(err, OSError) and (err.errno in _USER_ERRNOS or isinstance(
            err, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError))):
        what = (err.strerror or type(err).__name__).rstrip(".")
        where = err.filename2 if isinstance(err, FileExistsError) and err.filename2 else err.filename
        if isinstance(err, FileExistsError) or err.errno == errno.EEXIST:
            what = "a file is in the way (expected a folder or a new path)"
        elif isinstance(err, NotADirectoryError) or err.errno == errno.ENOTDIR:
            what = "a path component is a file, not a folder"
        return _one_line(f"{where}: {what}" if where else what), 2
    if isinstance(err, MemoryError):
        return "not enough memory to process this input", 2
    msg = _one_line(err, 200)
    return f"internal error: {type(err).__name__}" + (f": {msg}" if msg else ""), 1
