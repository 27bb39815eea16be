"""Hooks for integrators: connect a receiver to hear of every check-in, check-out, void
and refused scan, however it was recorded (API, scans, admin, bulk, commands, scheduled
check-outs, corrections, undo).

Each signal is sent once per record, after the transaction that wrote it commits, and
never for one rolled back. Every signal has the keyword arguments `record` and `attendee`
(`attendee` is None for a refused scan of an unknown code)::

    from django.dispatch import receiver

    from attendees.signals import checked_in

    @receiver(checked_in)
    def greet(sender, record, attendee, **kwargs):
        print(f"{attendee} came in at {record.at:%H:%M}")
"""

from django.dispatch import Signal

# `record` is the check-in `Record`.
checked_in = Signal()
# `record` is the check-out `Record`, a missed check-out added by a correction included.
checked_out = Signal()
# `record` is the voided `Record`; voiding a check-in that voids its stay's check-out
# sends this for each.
record_voided = Signal()
# `record` is the `RefusedScan`.
scan_refused = Signal()
