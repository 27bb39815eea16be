import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import attendees.models


def give_every_attendee_a_ticket_code(apps, schema_editor):
    """Existing attendees get a fresh code each, as new ones do."""
    Attendee = apps.get_model("attendees", "Attendee")
    batch = []
    for attendee in Attendee.objects.filter(ticket_code__isnull=True).only("pk").iterator(chunk_size=2000):
        attendee.ticket_code = attendees.models.new_ticket_code()
        batch.append(attendee)
        if len(batch) >= 2000:
            Attendee.objects.bulk_update(batch, ["ticket_code"])
            batch = []
    Attendee.objects.bulk_update(batch, ["ticket_code"])


class Migration(migrations.Migration):
    dependencies = [
        ("attendees", "0002_records_corrections_and_scheduled_checkout"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="attendee",
            name="ticket_code",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(give_every_attendee_a_ticket_code, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="attendee",
            name="ticket_code",
            field=models.CharField(
                default=attendees.models.new_ticket_code,
                help_text="What the QR code on the ticket holds. Made up by the server when left empty.",
                max_length=64,
                unique=True,
                validators=[attendees.models.ticket_code_validator],
            ),
        ),
        migrations.AlterField(
            model_name="record",
            name="source",
            field=models.CharField(
                choices=[
                    ("api", "API"),
                    ("admin", "admin"),
                    ("command", "command"),
                    ("auto", "scheduled check-out"),
                    ("correction", "correction"),
                    ("scan", "scan"),
                ],
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="RefusedScan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField()),
                ("recorded_at", models.DateTimeField()),
                ("ticket_code", models.CharField(max_length=200)),
                (
                    "direction",
                    models.CharField(choices=[("in", "in"), ("out", "out"), ("auto", "auto")], max_length=4),
                ),
                ("station", models.CharField(blank=True, max_length=100)),
                ("reason", models.CharField(max_length=50)),
                ("offline", models.BooleanField(default=False)),
                (
                    "attendee",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="attendees.attendee",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="attendees.event",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-recorded_at", "-id"],
                "indexes": [models.Index(fields=["event", "recorded_at"], name="refusedscan_event_idx")],
            },
        ),
    ]
