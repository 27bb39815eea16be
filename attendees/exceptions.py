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


class AlreadyVoided(AttendanceError):
    code = "already_voided"
    message = "This record has already been voided."


class NotLatestRecord(AttendanceError):
    code = "not_latest_record"
    message = (
        "Only the latest check-out can be voided: the attendee has checked in again since. Void that check-in first."
    )


class CheckOutBeforeCheckIn(AttendanceError):
    code = "check_out_before_check_in"
    message = "A check-out cannot be earlier than the check-in it ends."


class TimeInTheFuture(AttendanceError):
    code = "time_in_the_future"
    message = "A correction cannot record a time in the future."


class HasHistory(AttendanceError):
    code = "has_history"
    message = "Cannot delete: attendance history is kept forever."


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key was sent with a different request."""

    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different request."


class UnknownTicket(AttendanceError):
    code = "unknown_ticket"
    message = "Unknown ticket: no attendee has this code."


class WrongEvent(AttendanceError):
    code = "wrong_event"
    message = "This ticket is for another event."


class UndoExpired(AttendanceError):
    code = "undo_expired"
    message = "Too late to undo: a scan can be taken back within 2 minutes. Ask for a correction."


class NotYourRecord(AttendanceError):
    """Undo is for the one who scanned; everyone else uses corrections."""

    code = "not_your_record"
    message = "Only the person who recorded this can undo it; ask for a correction instead."


class CapacityReached(AttendanceError):
    code = "capacity_reached"
    message = "The place is full."


class UnknownAttendee(UnknownTicket):
    message = "Unknown attendee: no attendee has this id."


class TooOld(AttendanceError):
    code = "too_old"
    message = "This offline scan is more than 7 days old; it was kept for review, not recorded."


class OutOfOrder(AttendanceError):
    code = "out_of_order"
    message = (
        "This offline scan happened before the attendee's latest check-in or check-out; it was kept for review, "
        "not recorded."
    )
