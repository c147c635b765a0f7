from crm.documents.api_key import ApiKey
from crm.documents.attribute_key import AttributeKey
from crm.documents.audience import Audience
from crm.documents.campaign import Campaign
from crm.documents.communication_log import CommunicationLog
from crm.documents.contact import ContactLedger, Suppression
from crm.documents.customer import Customer
from crm.documents.ingestion import (
    Ingestion,
    IngestionBatch,
    IngestionChunk,
    IngestionRejection,
    IngestionStatus,
    ParkedOrder,
)
from crm.documents.order import Order, OrderDayMark, OrderDayTotals
from crm.documents.send_chunk import SendChunk
from crm.documents.status import CampaignStatus, ChunkState, MessageStatus
from crm.documents.test_message import TestMessage, TestMessageStatus
from crm.documents.user import ROLES, User

__all__ = [
    "ROLES",
    "ApiKey",
    "AttributeKey",
    "Audience",
    "Campaign",
    "CampaignStatus",
    "ChunkState",
    "CommunicationLog",
    "ContactLedger",
    "Customer",
    "Ingestion",
    "IngestionBatch",
    "IngestionChunk",
    "IngestionRejection",
    "IngestionStatus",
    "MessageStatus",
    "Order",
    "OrderDayMark",
    "OrderDayTotals",
    "ParkedOrder",
    "SendChunk",
    "Suppression",
    "TestMessage",
    "TestMessageStatus",
    "User",
]
