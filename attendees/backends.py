"""An authentication backend for busy doors: Django's `ModelBackend`, with its queries
of a user's permissions prepared, and run as one.

Every scan asks whether the user may record attendance, and Django's `ModelBackend`
answers with two queries (the user's own permissions and their groups'), built and
compiled by the ORM on every request: more of a scan's time than the scan's own
statements. This backend reads both in one query (a UNION ALL of the same two
SELECTs), prepared once (see `attendees.prepared`), and answers exactly as
`ModelBackend` does. Use it in place of Django's::

    AUTHENTICATION_BACKENDS = ["attendees.backends.ModelBackend"]
"""

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Permission
from django.db import router
from django.db.models import CharField, Value

from .prepared import Param, PreparedQuery

SOURCES = ("user", "group")


def _permissions(source: str):
    """The (app label, codename, `source`) of the permissions the user `Param("user")`
    has from `source`: "user" (their own) or "group" (their groups'), as `ModelBackend`
    reads them."""
    user_model = get_user_model()
    user = Param("user", user_model._meta.pk)
    if source == "user":
        relation = user_model._meta.get_field("user_permissions").related_query_name()
    else:
        relation = f"group__{user_model._meta.get_field('groups').related_query_name()}"
    return (
        Permission.objects.filter(**{relation: user})
        .annotate(source=Value(source, output_field=CharField()))
        .values_list("content_type__app_label", "codename", "source")
        .order_by()
    )


# Both kinds in one statement: each row says which it is.
_PERMISSIONS = PreparedQuery(lambda: _permissions("user").union(_permissions("group"), all=True))


class ModelBackend(backends.ModelBackend):
    """Django's `ModelBackend`, the user's own and their groups' permissions read in one
    prepared query the first time either is asked for, and cached on the user as
    Django caches them."""

    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super()._get_permissions(user_obj, obj, from_name)
        cache = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache):
            found = {source: set() for source in SOURCES}
            for row in _PERMISSIONS.rows(router.db_for_read(Permission), user=user_obj.pk):
                found[row["source"]].add(f"{row['content_type__app_label']}.{row['codename']}")
            for source in SOURCES:
                # A kind already read keeps what was read, as Django's caches do.
                if not hasattr(user_obj, f"_{source}_perm_cache"):
                    setattr(user_obj, f"_{source}_perm_cache", found[source])
        return getattr(user_obj, cache)
