from django.apps import AppConfig


class AttendeesConfig(AppConfig):
    name = "attendees"
    verbose_name = "Attendees"
    default_auto_field = "django.db.models.BigAutoField"
