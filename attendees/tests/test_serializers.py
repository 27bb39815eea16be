"""Serializers build their fields once per class and give each instance its own copies
(`FieldsBuiltOnce`, `fresh_copy`): the copies must behave as the REST framework's deep
copies do."""

import copy

from rest_framework import serializers

from attendees import selectors, services
from attendees.api.serializers import (
    AttendeeSerializer,
    FieldsBuiltOnce,
    RecordSerializer,
    ScanSerializer,
    fresh_copy,
)
from attendees.models import Event


def test_each_instance_has_its_own_fields_bound_to_it():
    first, second = ScanSerializer(), ScanSerializer()
    for name, field in first.fields.items():
        other = second.fields[name]
        assert field is not other
        assert (field.parent, field.field_name) == (first, name)
        assert (other.parent, other.field_name) == (second, name)


def test_a_list_fields_child_is_copied_and_belongs_to_the_copy(attendee):
    serializer = AttendeeSerializer(selectors.attendee_with_times(attendee), context={"marker": 1})
    other = AttendeeSerializer()
    times = serializer.fields["checkin_times"]
    assert times.child is not other.fields["checkin_times"].child
    assert times.child.parent is times
    assert times.child.context == {"marker": 1}


def test_a_copy_is_what_a_deep_copy_would_be():
    for field in ScanSerializer._declared_fields.values():
        copied, deep = fresh_copy(field), copy.deepcopy(field)
        assert type(copied) is type(deep)
        assert repr(copied) == repr(deep)
        assert copied.__dict__.keys() == deep.__dict__.keys()


def test_a_mutable_default_is_not_shared():
    class Tags(FieldsBuiltOnce, serializers.Serializer):
        tags = serializers.ListField(child=serializers.CharField(), default=list)
        labels = serializers.DictField(default={"a": "b"})

    first, second = Tags(data={}), Tags(data={})
    assert first.is_valid()
    assert second.is_valid()
    first.validated_data["labels"]["a"] = "changed"
    assert second.validated_data["labels"] == {"a": "b"}
    assert first.validated_data["tags"] is not second.validated_data["tags"]


def test_errors_of_one_instance_do_not_reach_the_next(event):
    refused = ScanSerializer(data={"ticket_code": "", "direction": "sideways"})
    assert not refused.is_valid()
    assert set(refused.errors) == {"ticket_code", "direction"}
    accepted = ScanSerializer(data={"ticket_code": "abcdefgh", "direction": "in", "event": event.pk})
    assert accepted.is_valid(), accepted.errors
    assert accepted.validated_data["direction"] == "in"


def test_answers_are_the_same_as_with_deep_copies(attendee, door_staff, monkeypatch):
    record = services.check_in(attendee=attendee, by=door_staff, station="North door")

    def answers():
        return (
            AttendeeSerializer(selectors.attendee_with_times(attendee)).data,
            RecordSerializer(record).data,
        )

    fresh = answers()
    assert fresh[0]["checkin_times"] == [record.at.isoformat().replace("+00:00", "Z")]
    assert fresh[1]["recorded_by"] == door_staff.get_username()
    monkeypatch.setattr("attendees.api.serializers.fresh_copy", copy.deepcopy)
    assert answers() == fresh


def test_a_many_related_fields_child_is_copied_and_belongs_to_the_copy(event):
    class Events(FieldsBuiltOnce, serializers.Serializer):
        events = serializers.PrimaryKeyRelatedField(many=True, queryset=Event.objects.all())

    first, second = Events(data={"events": [event.pk]}), Events()
    many = first.fields["events"]
    assert many.child_relation is not second.fields["events"].child_relation
    assert many.child_relation.parent is many
    assert first.is_valid(), first.errors
    assert first.validated_data["events"] == [event]
