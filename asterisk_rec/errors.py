"""Errors a person reads: each has a stable ``error_id`` (for scripts, logs and the API) and a message
that says what went wrong, where, and what to do about it."""


from typing import Any


class AsteriskRecError(Exception):
    """``status``: the HTTP status the portal and the API answer it with (503: the service's own trouble,
    try again); ``details``: what a client may act on, in the API's JSON beside the message."""

    error_id = "asterisk_rec_error"
    status = 503

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

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


class AriCommandFailed(AriError):
    """Asterisk answered a command with an error: ``status`` 404 (or 409, 422...) often means its object is
    already gone, which a call flow expects at any moment."""

    error_id = "ari_command_failed"

    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message, {"status": status})
        self.status = status
        self.text = text


class AriConnectionLost(AriError):
    """The app's connection to Asterisk broke before a command was answered: it may or may not have
    happened (the app reconciles when it is connected again)."""

    error_id = "ari_connection_lost"


class AmiCredentialsRejected(AsteriskRecError):
    error_id = "ami_credentials_rejected"


class DatabaseUnavailable(AsteriskRecError):
    error_id = "database_unavailable"


class DatabaseCredentialsRejected(AsteriskRecError):
    error_id = "database_credentials_rejected"


class InvalidInput(AsteriskRecError):
    error_id = "invalid_input"
    status = 400


class NotFound(AsteriskRecError):
    error_id = "not_found"
    status = 404


class Conflict(AsteriskRecError):
    error_id = "conflict"
    status = 409


class Unauthenticated(AsteriskRecError):
    error_id = "unauthenticated"
    status = 401


class Forbidden(AsteriskRecError):
    error_id = "forbidden"
    status = 403


class ExportRefused(AsteriskRecError):
    error_id = "export_refused"


class TooManyLogins(AsteriskRecError):
    error_id = "too_many_logins"
    status = 429


class CallRefused(AsteriskRecError):
    error_id = "call_refused"
