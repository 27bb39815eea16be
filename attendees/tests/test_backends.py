"""The app's `ModelBackend` answers exactly as Django's, from prepared queries."""

import pytest
from django.contrib.auth import backends as django_backends
from django.contrib.auth.models import AnonymousUser, Group, Permission, User

from attendees.backends import ModelBackend

PERMISSIONS = ["attendees.record_attendance", "attendees.view_attendee", "attendees.change_event", "auth.add_user"]


def _fresh(user: User) -> User:
    """The user as a new request sees them: no permissions cached."""
    return User.objects.get(pk=user.pk)


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _answers(backend, user) -> dict:
    return {
        "user": backend.get_user_permissions(user),
        "group": backend.get_group_permissions(user),
        "all": backend.get_all_permissions(user),
        "has": {name: backend.has_perm(user, name) for name in PERMISSIONS},
        "module": {label: backend.has_module_perms(user, label) for label in ("attendees", "auth", "admin")},
        "with_object": backend.get_all_permissions(user, obj=object()),
    }


@pytest.fixture
def people(db):
    own = User.objects.create_user("own", password="x")
    own.user_permissions.add(_permission("attendees.record_attendance"))
    door = Group.objects.create(name="Door")
    door.permissions.add(_permission("attendees.view_attendee"), _permission("attendees.record_attendance"))
    office = Group.objects.create(name="Office")
    office.permissions.add(_permission("attendees.change_event"))
    grouped = User.objects.create_user("grouped", password="x")
    grouped.groups.add(door, office)
    both = User.objects.create_user("both", password="x")
    both.user_permissions.add(_permission("auth.add_user"))
    both.groups.add(door)
    inactive = User.objects.create_user("inactive", password="x", is_active=False)
    inactive.user_permissions.add(_permission("attendees.record_attendance"))
    superuser = User.objects.create_superuser("super", password="x")
    nothing = User.objects.create_user("nothing", password="x")
    return [own, grouped, both, inactive, superuser, nothing]


def test_every_answer_is_djangos(people):
    for person in people:
        assert _answers(ModelBackend(), _fresh(person)) == _answers(django_backends.ModelBackend(), _fresh(person))
    assert _answers(ModelBackend(), AnonymousUser()) == _answers(django_backends.ModelBackend(), AnonymousUser())


def test_a_users_own_and_group_permissions_cost_one_query_then_none(people, django_assert_num_queries):
    grouped = _fresh(people[1])
    with django_assert_num_queries(1):
        assert ModelBackend().has_perm(grouped, "attendees.record_attendance")
    with django_assert_num_queries(0):
        assert not ModelBackend().has_perm(grouped, "auth.add_user")


def test_a_permission_given_later_counts_for_the_next_request(people):
    nothing = people[-1]
    assert not ModelBackend().has_perm(_fresh(nothing), "attendees.change_event")
    nothing.user_permissions.add(_permission("attendees.change_event"))
    assert ModelBackend().has_perm(_fresh(nothing), "attendees.change_event")


def test_asking_for_the_groups_first_reads_the_users_own_too(people, django_assert_num_queries):
    both = _fresh(people[2])
    with django_assert_num_queries(1):
        assert ModelBackend().get_group_permissions(both) == {
            "attendees.view_attendee",
            "attendees.record_attendance",
        }
    with django_assert_num_queries(0):
        assert ModelBackend().get_user_permissions(both) == {"auth.add_user"}


def test_a_kind_already_read_is_kept_as_read(people, django_assert_num_queries):
    both = _fresh(people[2])
    both._user_perm_cache = {"attendees.read_earlier"}
    with django_assert_num_queries(1):
        assert ModelBackend().get_all_permissions(both) == {
            "attendees.read_earlier",
            "attendees.view_attendee",
            "attendees.record_attendance",
        }
