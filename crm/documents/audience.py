from mongoengine import DateTimeField, DictField, Document, IntField, StringField

from crm.clock import utcnow
from crm.documents.rule_summary import summarize


class Audience(Document):
    name = StringField(max_length=200)
    # The rule tree exactly as validated: {"logic": ..., "rules": [...]}.
    rules = DictField(required=True)
    size = IntField(default=0)
    computed_at = DateTimeField(default=utcnow)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "audiences", "indexes": [("-created_at", "-_id")]}

    @property
    def summary(self) -> str:
        return summarize(self.rules)
