import mongoengine
from pymongo import monitoring

from crm import documents
from crm.config import Settings

DOCUMENTS = (
    documents.ApiKey,
    documents.Customer,
    documents.Order,
    documents.Audience,
    documents.Campaign,
    documents.CommunicationLog,
    documents.SendChunk,
    documents.Ingestion,
    documents.IngestionBatch,
    documents.ParkedOrder,
)


def connect(settings: Settings, event_listeners: list[monitoring.CommandListener] | None = None):
    """(Re)connect MongoEngine to ``settings.mongodb_uri`` and declare every index."""
    mongoengine.disconnect()
    for document in DOCUMENTS:
        # MongoEngine caches the collection on the class; drop it so a new database is used.
        document._collection = None
    client = mongoengine.connect(
        host=settings.mongodb_uri,
        tz_aware=False,
        uuidRepresentation="standard",
        event_listeners=event_listeners or [],
    )
    for document in DOCUMENTS:
        document.ensure_indexes()
    return client
