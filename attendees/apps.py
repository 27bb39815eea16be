from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class AttendeesConfig(AppConfig):
    name = "attendees"
    verbose_name = _("Attendees")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import services
        from .checks import ALL_CHECKS
        from .models import Attendee

        for check in ALL_CHECKS:
            checks.register(check)
        # Each event's count of attendees follows every save and delete of one.
        post_save.connect(services.count_registered, sender=Attendee, dispatch_uid="attendees.count_registered")
        post_delete.connect(services.uncount_registered, sender=Attendee, dispatch_uid="attendees.uncount_registered")
