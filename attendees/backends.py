"""An authentication backend for busy doors: Django's `ModelBackend`, with its queries
of a user's permissions prepared.

Every scan asks whether the user may record attendance, and Django's `ModelBackend`
answers with two queries (the user's own permissions and their groups'), built and
compiled by the ORM on every request: more of a scan's time than the scan's own
statements. This backend runs the same two queries, prepared once (see
`attendees.prepared`), and answers exactly as `ModelBackend` does. Use it in place of
Django's::

    AUTHENTICATION_BACKENDS = ["attendees.backends.ModelBackend"]
"""

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Permission
from django.db import router

from .prepared import Param, PreparedQuery


def _permissions(source: str) -> PreparedQuery:
    """The (app label, codename) of the permissions the user `Param("user")` has from
    `source`: "user" (their own) or "group" (their groups'), as `ModelBackend` reads them."""

    def build():
        user_model = get_user_model()
        user = Param("user", user_model._meta.pk)
        if source == "user":
            relation = user_model._meta.get_field("user_permissions").related_query_name()
        else:
            relation = f"group__{user_model._meta.get_field('groups').related_query_name()}"
        return Permission.objects.filter(**{relation: user}).values_list("content_type__app_label", "codename")

    return PreparedQuery(build)


class ModelBackend(backends.ModelBackend):
    """Django's `ModelBackend`, its two queries of a user's permissions prepared."""

    prepared = {"user": _permissions("user"), "group": _permissions("group")}

    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super()._get_permissions(user_obj, obj, from_name)
        cache = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache):
            rows = self.prepared[from_name].rows(router.db_for_read(Permission), user=user_obj.pk)
            setattr(user_obj, cache, {f"{row['content_type__app_label']}.{row['codename']}" for row in rows})
        return getattr(user_obj, cache)
