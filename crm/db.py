import mongoengine
from pymongo import monitoring

from crm import documents
from crm.config import Settings

DOCUMENTS = (
    documents.ApiKey,
    documents.User,
    documents.Customer,
    documents.Order,
    documents.OrderDayMark,
    documents.OrderDayTotals,
    documents.Audience,
    documents.Campaign,
    documents.CommunicationLog,
    documents.SendChunk,
    documents.Ingestion,
    documents.IngestionBatch,
    documents.IngestionRejection,
    documents.ParkedOrder,
    documents.AttributeKey,
    documents.Suppression,
    documents.ContactLedger,
    documents.TestMessage,
)

# Indexes an earlier version declared that a declared one now does the work of: dropped by
# ``flask db indexes`` (never by the lazy declaration), once their replacement exists.
SUPERSEDED = {
    "communication_logs": ("campaign_id_1_status_1",),  # by campaign_id_1_status_1_updated_at_1
    "orders": ("customer_id_1_order_date_1",),  # by customer_id_1_order_date_-1__id_-1
    "campaigns": ("created_at_-1",),  # by created_at_-1__id_-1
    "audiences": ("created_at_-1",),  # by created_at_-1__id_-1
}

_indexes_declared = False
_query_timeout_ms = Settings.query_timeout_ms
_results_timeout_ms = Settings.results_timeout_ms


def query_timeout_ms() -> int:
    """``maxTimeMS`` for the queries a user triggers (``CRM_QUERY_TIMEOUT_MS``)."""
    return _query_timeout_ms


def results_timeout_ms() -> int:
    """``maxTimeMS`` for a campaign's results (``CRM_RESULTS_TIMEOUT_MS``)."""
    return _results_timeout_ms


def connect(settings: Settings, event_listeners: list[monitoring.CommandListener] | None = None):
    """(Re)point MongoEngine at ``settings.mongodb_uri`` without touching the network: the
    first command connects, and waits at most ``mongodb_timeout_ms`` for a server."""
    global _indexes_declared, _query_timeout_ms, _results_timeout_ms
    mongoengine.disconnect()
    _indexes_declared = False
    _query_timeout_ms = settings.query_timeout_ms
    _results_timeout_ms = settings.results_timeout_ms
    for document in DOCUMENTS:
        # MongoEngine caches the collection on the class; drop it so a new database is used.
        document._collection = None
    return mongoengine.connect(
        host=settings.mongodb_uri,
        connect=False,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        tz_aware=False,
        uuidRepresentation="standard",
        event_listeners=event_listeners or [],
    )


def ensure_indexes() -> None:
    """Declare every index once per connection (MongoEngine also does it on a collection's
    first use, but skips it for good if the server was unreachable at that moment)."""
    global _indexes_declared
    if not _indexes_declared:
        for document in DOCUMENTS:
            document.ensure_indexes()
        _indexes_declared = True


def migrate_indexes() -> dict[str, dict[str, list[str]]]:
    """Create every declared index that is missing, then drop the superseded ones; by
    collection, the indexes ``created``, ``dropped`` and now in place (``indexes``)."""
    report: dict[str, dict[str, list[str]]] = {}
    for document in DOCUMENTS:
        # Not ``_get_collection()``: MongoEngine declares the indexes on its first call.
        collection = document._get_db()[document._get_collection_name()]
        before = set(collection.index_information())
        document.ensure_indexes()
        after = set(collection.index_information())
        dropped = [name for name in SUPERSEDED.get(collection.name, ()) if name in after]
        for name in dropped:
            collection.drop_index(name)
        report[collection.name] = {
            "created": sorted(after - before),
            "dropped": dropped,
            "indexes": sorted(after - set(dropped)),
        }
    return report
