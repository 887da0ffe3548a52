"""User-facing errors: one line that names the file, line or key, and the fix."""


class DtlError(Exception):
    """An error caused by the user's input or environment, not by a bug in dtl.

    The CLI prints ``str(err)`` on one line and exits with status 2, without a traceback.
    """


class DataError(DtlError):
    """A data file is missing, empty or malformed (message names file and line)."""


class ConfigError(DtlError):
    """A configuration value is invalid (message names the key)."""


class DeviceError(DtlError):
    """A requested device is not available."""


def decode_utf8_line(path: object, raw: bytes, line_no: int) -> str:
    """`raw` as UTF-8 text, or a DataError naming file, line and column of the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}:{line_no}: not UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
            "re-save the file as UTF-8"
        ) from None


class DtlWarning(UserWarning):
    """Something suspicious but not wrong (an overlap, a header that disagrees with its file).

    Library modules raise it with `warn`; the CLI shows each as one `dtl: warning:` line.
    """


def warn(message: str) -> None:
    """Say `message` as a DtlWarning (one line, naming the file or key, and what to check)."""
    import warnings

    warnings.warn(message, DtlWarning, stacklevel=2)
