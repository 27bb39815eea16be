"""Domain errors. Each carries a machine `code` that every interface turns into its own message."""


class AttendanceError(Exception):
    """A request that the rules refuse. Nothing was recorded."""

    code = "attendance_refused"
    message = "The request was refused."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)

    @property
    def detail(self) -> str:
        return str(self)


class AlreadyCheckedIn(AttendanceError):
    code = "already_checked_in"
    message = "The attendee is already checked in."


class NotCheckedIn(AttendanceError):
    code = "not_checked_in"
    message = "The attendee has never checked in, so cannot check out."


class AlreadyCheckedOut(AttendanceError):
    code = "already_checked_out"
    message = "The attendee has already checked out."


class HasHistory(AttendanceError):
    code = "has_history"
    message = "Cannot delete: attendance history is kept forever."


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key was sent with a different request."""

    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different request."
