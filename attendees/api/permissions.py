"""Who may do what. Reading needs `view_attendee`; writes need the model's add/change/
delete permission; every check-in or check-out, however it is asked for, also needs
`record_attendance`."""

from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

from .serializers import STATE_FIELDS

VIEW_ATTENDEE = "attendees.view_attendee"
RECORD_ATTENDANCE = "attendees.record_attendance"
CORRECT_ATTENDANCE = "attendees.correct_attendance"
OVERRIDE_CAPACITY = "attendees.override_capacity"


def _overrides_capacity(request) -> bool:
    return isinstance(request.data, dict) and request.data.get("override_capacity") is True


ACTION_PERMISSIONS = {
    "checkin": {RECORD_ATTENDANCE},
    "checkout": {RECORD_ATTENDANCE},
    "bulk_checkout": {RECORD_ATTENDANCE},
    "corrections": {CORRECT_ATTENDANCE},
    "create": {"attendees.add_attendee"},
    "update": {"attendees.change_attendee"},
    "partial_update": {"attendees.change_attendee"},
    "destroy": {"attendees.delete_attendee"},
}


def _is_authenticated(request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class AttendeePermission(BasePermission):
    """Attendee data is private: every endpoint needs `view_attendee`, since every one
    shows or reveals attendees, plus the permission of what it does."""

    def has_permission(self, request, view) -> bool:
        if not _is_authenticated(request):
            return False
        return request.user.has_perms({VIEW_ATTENDEE} | self.required(request, view.action))

    @staticmethod
    def required(request, action: str | None) -> set[str]:
        needed = set(ACTION_PERMISSIONS.get(action, ()))
        if action == "checkin" and _overrides_capacity(request):
            needed.add(OVERRIDE_CAPACITY)
        # A PUT's flags describe the state asked for: the view asks for `record_attendance`
        # only when that state needs a check-in or check-out.
        if action in {"create", "partial_update"}:
            sent = set(request.data) if isinstance(request.data, dict) else set()
            if sent & set(STATE_FIELDS):
                needed.add(RECORD_ATTENDANCE)
            # A PATCH that only checks in or out (with its station) is a check-in or check-out, not an edit.
            if action == "partial_update" and sent & set(STATE_FIELDS) and sent <= {*STATE_FIELDS, "station"}:
                needed.discard("attendees.change_attendee")
        return needed


class EventPermission(DjangoModelPermissions):
    """Events are readable by whoever may see events or their attendees (door staff
    pick an event); writes need the event's add/change/delete permission. An event's
    attendance (its figures and the CSV of names and emails) needs `view_attendee`."""

    def has_permission(self, request, view) -> bool:
        if not _is_authenticated(request):
            return False
        if getattr(view, "action", None) == "attendance":
            return request.user.has_perm(VIEW_ATTENDEE)
        if getattr(view, "action", None) == "roster":
            # What a door device needs to scan offline: names, and hashes of the codes.
            return request.user.has_perms([VIEW_ATTENDEE, RECORD_ATTENDANCE])
        if request.method in SAFE_METHODS:
            user = request.user
            return user.has_perm("attendees.view_event") or user.has_perm(VIEW_ATTENDEE)
        return super().has_permission(request, view)


class RecordAttendancePermission(BasePermission):
    """Scanning a ticket and undoing one's own scan need `record_attendance`; admitting
    over capacity needs `override_capacity` too."""

    def has_permission(self, request, view) -> bool:
        needed = {RECORD_ATTENDANCE}
        if _overrides_capacity(request):
            needed.add(OVERRIDE_CAPACITY)
        return _is_authenticated(request) and request.user.has_perms(needed)


class AreaPermission(DjangoModelPermissions):
    """Areas are readable by whoever may see areas or attendees (door staff pick one);
    writes need the area's add/change/delete permission."""

    def has_permission(self, request, view) -> bool:
        if not _is_authenticated(request):
            return False
        if request.method in SAFE_METHODS:
            return request.user.has_perm("attendees.view_area") or request.user.has_perm(VIEW_ATTENDEE)
        return super().has_permission(request, view)


class RefusedScanPermission(BasePermission):
    """Refused scans show who was scanned: reading them needs `view_attendee`."""

    def has_permission(self, request, view) -> bool:
        return _is_authenticated(request) and request.user.has_perm(VIEW_ATTENDEE)


def request_may_record(request) -> bool:
    return request.user.has_perm(RECORD_ATTENDANCE)
