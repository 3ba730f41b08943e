"""Errors a person reads: each has a stable ``error_id`` (for scripts, logs and the API) and a message
that says what went wrong, where, and what to do about it."""


class AsteriskRecError(Exception):
    error_id = "asterisk_rec_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} [{self.error_id}]"


class ConfigError(AsteriskRecError):
    error_id = "config_invalid"


class LabNeedsRoot(AsteriskRecError):
    error_id = "lab_needs_root"


class LabError(AsteriskRecError):
    error_id = "lab_failed"


class LabNotRunning(AsteriskRecError):
    error_id = "lab_not_running"


class AsteriskUnreachable(AsteriskRecError):
    error_id = "asterisk_unreachable"


class AriCredentialsRejected(AsteriskRecError):
    error_id = "ari_credentials_rejected"


class AriError(AsteriskRecError):
    error_id = "ari_error"


class AmiCredentialsRejected(AsteriskRecError):
    error_id = "ami_credentials_rejected"


class DatabaseUnavailable(AsteriskRecError):
    error_id = "database_unavailable"


class DatabaseCredentialsRejected(AsteriskRecError):
    error_id = "database_credentials_rejected"


class InvalidInput(AsteriskRecError):
    error_id = "invalid_input"


class NotFound(AsteriskRecError):
    error_id = "not_found"


class Conflict(AsteriskRecError):
    error_id = "conflict"


class Unauthenticated(AsteriskRecError):
    error_id = "unauthenticated"


class Forbidden(AsteriskRecError):
    error_id = "forbidden"


class ExportRefused(AsteriskRecError):
    error_id = "export_refused"


class TooManyLogins(AsteriskRecError):
    error_id = "too_many_logins"


class CallRefused(AsteriskRecError):
    error_id = "call_refused"
