"""Domain errors. Each carries a machine `code` that every interface turns into its own message."""

from django.utils.translation import gettext_lazy as _


class AttendanceError(Exception):
    """A request that the rules refuse. Nothing was recorded."""

    code = "attendance_refused"
    message = _("The request was refused.")

    def __init__(self, message: str | None = None):
        # The message stays lazy until it is read, so it is given in the language of the request.
        super().__init__(message or self.message)

    @property
    def detail(self) -> str:
        return str(self)


class AlreadyCheckedIn(AttendanceError):
    code = "already_checked_in"
    message = _("The attendee is already checked in.")


class NotCheckedIn(AttendanceError):
    code = "not_checked_in"
    message = _("The attendee has never checked in, so cannot check out.")


class AlreadyCheckedOut(AttendanceError):
    code = "already_checked_out"
    message = _("The attendee has already checked out.")


class AlreadyVoided(AttendanceError):
    code = "already_voided"
    message = _("This record has already been voided.")


class NotLatestRecord(AttendanceError):
    code = "not_latest_record"
    message = _(
        "Only the latest check-out can be voided: the attendee has checked in again since. Void that check-in first."
    )


class CheckOutBeforeCheckIn(AttendanceError):
    code = "check_out_before_check_in"
    message = _("A check-out cannot be earlier than the check-in it ends.")


class TimeInTheFuture(AttendanceError):
    code = "time_in_the_future"
    message = _("A correction cannot record a time in the future.")


class HasHistory(AttendanceError):
    code = "has_history"
    message = _("Cannot delete: attendance history is kept forever.")


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key was sent with a different request."""

    code = "idempotency_key_reused"
    message = _("This Idempotency-Key was already used for a different request.")


class UnknownTicket(AttendanceError):
    code = "unknown_ticket"
    message = _("Unknown ticket: no attendee has this code.")


class WrongEvent(AttendanceError):
    code = "wrong_event"
    message = _("This ticket is for another event.")


class UndoExpired(AttendanceError):
    code = "undo_expired"
    message = _("Too late to undo: a scan can be taken back within 2 minutes. Ask for a correction.")


class NotYourRecord(AttendanceError):
    """Undo is for the one who scanned; everyone else uses corrections."""

    code = "not_your_record"
    message = _("Only the person who recorded this can undo it; ask for a correction instead.")


class CapacityReached(AttendanceError):
    code = "capacity_reached"
    message = _("The place is full.")


class UnknownAttendee(UnknownTicket):
    message = _("Unknown attendee: no attendee has this id.")


class TooOld(AttendanceError):
    code = "too_old"
    message = _("This offline scan is more than 7 days old; it was kept for review, not recorded.")


class OutOfOrder(AttendanceError):
    code = "out_of_order"
    message = _(
        "This offline scan happened before the attendee's latest check-in or check-out; it was kept for review, "
        "not recorded."
    )
