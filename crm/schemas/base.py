import marshmallow as ma


class BaseSchema(ma.Schema):
    """Rejects unknown fields, so a typo is an error rather than silently ignored."""

    class Meta:
        unknown = ma.RAISE
        ordered = True
