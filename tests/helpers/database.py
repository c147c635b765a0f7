"""What the database holds, to show that a refused request wrote nothing."""

import mongoengine


def database_contents():
    """Every document of every collection, to compare before and after a request."""
    db = mongoengine.get_db()
    return {
        name: sorted(map(repr, db[name].find({}, sort=[("_id", 1)])))
        for name in sorted(db.list_collection_names())
    }
