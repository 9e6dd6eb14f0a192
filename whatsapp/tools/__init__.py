"""Odoo-free helpers of the whatsapp addon: the Graph API client and Meta's error table."""

from .graph_api import GraphClient, LoopbackOnlyError, WhatsAppApiError, get_session, is_loopback_url
from .meta_errors import CATEGORIES, META_ERRORS, RETRY_CLASSES, classify

__all__ = [
    "CATEGORIES",
    "META_ERRORS",
    "RETRY_CLASSES",
    "GraphClient",
    "LoopbackOnlyError",
    "WhatsAppApiError",
    "classify",
    "get_session",
    "is_loopback_url",
]
