from flask_smorest import Page


class QuerySetPage(Page):
    """Pages a MongoEngine queryset with one count and one bounded find."""

    @property
    def item_count(self) -> int:
        return self.collection.count()
