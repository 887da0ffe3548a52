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
