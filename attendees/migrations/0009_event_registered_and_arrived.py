from django.db import migrations, models
from django.db.models.functions import Coalesce


def count_registered_and_arrived(apps, schema_editor):
    """The counts of the events as they stand: their attendees, and those of them with a
    stay in the event whose check-in was not voided."""
    Attendee = apps.get_model("attendees", "Attendee")
    Event = apps.get_model("attendees", "Event")
    Visit = apps.get_model("attendees", "Visit")
    theirs = Attendee.objects.filter(event=models.OuterRef("pk")).order_by().values("event")
    stays = Visit.objects.filter(attendee=models.OuterRef("pk"), voided_at__isnull=True, area__isnull=True)
    arrived = theirs.filter(models.Exists(stays))
    Event.objects.update(
        registered=Coalesce(models.Subquery(theirs.annotate(n=models.Count("pk")).values("n")), 0),
        arrived=Coalesce(models.Subquery(arrived.annotate(n=models.Count("pk")).values("n")), 0),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("attendees", "0008_plain_help_texts"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="registered",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="registered"),
        ),
        migrations.AddField(
            model_name="event",
            name="arrived",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="arrived"),
        ),
        migrations.RunPython(count_registered_and_arrived, migrations.RunPython.noop),
    ]
