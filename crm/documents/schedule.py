from mongoengine import (
    DateTimeField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    FloatField,
    StringField,
)

MISSED_SCHEDULE_POLICIES = ("send", "skip")


class QuietHours(EmbeddedDocument):
    """Recipient-local ``HH:MM`` times; past midnight when ``end`` < ``start``."""

    start = StringField(required=True)
    end = StringField(required=True)


class CampaignSchedule(EmbeddedDocument):
    """When a campaign starts and when each member gets it (crm/services/sending/schedule.py).

    ``send_at`` is when the campaign starts (computed from ``send_date`` and
    ``local_send_time`` when each member gets it at a local time). ``timezone`` and
    ``quiet_hours`` are filled in from the settings when the campaign is started, so the
    campaign keeps what it was sent with.
    """

    send_at = DateTimeField()
    send_date = DateTimeField()  # midnight UTC of the day
    local_send_time = StringField()
    timezone = StringField()
    quiet_hours = EmbeddedDocumentField(QuietHours)
    missed_schedule = StringField(choices=MISSED_SCHEDULE_POLICIES, default="send")
    # What happened at its time: when it fired, how late, and why it was sent late or not.
    fired_at = DateTimeField()
    late_seconds = FloatField()
    missed = StringField()
    # How late a member's local send time may be met when the campaign starts (the
    # settings' grace or lateness limit, by its policy); those later are skipped.
    late_limit_seconds = FloatField()
