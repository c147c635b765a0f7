from mongoengine import Document, ListField, StringField


class AttributeKey(Document):
    """A custom attribute key some customer was written with, and the types of its values
    (kept by ``crm.services.attribute_keys``): the catalogue audience rules pick from."""

    key = StringField(primary_key=True)
    types = ListField(StringField())

    meta = {"collection": "attribute_keys"}
