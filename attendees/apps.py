from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class AttendeesConfig(AppConfig):
    name = "attendees"
    verbose_name = _("Attendees")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import ALL_CHECKS

        for check in ALL_CHECKS:
            checks.register(check)
