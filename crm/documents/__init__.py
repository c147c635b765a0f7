from crm.documents.audience import Audience
from crm.documents.campaign import Campaign
from crm.documents.communication_log import CommunicationLog
from crm.documents.customer import Customer
from crm.documents.order import Order
from crm.documents.status import CampaignStatus, MessageStatus

__all__ = [
    "Audience",
    "Campaign",
    "CampaignStatus",
    "CommunicationLog",
    "Customer",
    "MessageStatus",
    "Order",
]
