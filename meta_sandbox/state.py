"""In-memory state of the sandbox: accounts, templates, media, messages and conversations.

Conversations are kept per (phone_number_id, customer wa_id) with both directions, so a phone-emulator page
can render them.
"""

import base64
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field

# Calling code -> ISO country of a BSUID's prefix (Meta: ``CC.<digits>``, the country of the user's number).
_COUNTRIES = {
    "1": "US", "7": "RU", "27": "ZA", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "39": "IT", "41": "CH",
    "44": "GB", "49": "DE", "52": "MX", "55": "BR", "61": "AU", "81": "JP", "86": "CN", "91": "IN", "212": "MA",
    "351": "PT", "352": "LU", "971": "AE",
}  # fmt: skip


def bsuid_for(wa_id, portfolio="sandbox"):
    """The business-scoped user id Meta gives the user ``wa_id`` (stable per business portfolio, §5.9)."""
    digits = "".join(c for c in str(wa_id) if c.isdigit())
    country = next((_COUNTRIES[digits[:n]] for n in (3, 2, 1) if digits[:n] in _COUNTRIES), "ZZ")
    number = int(hashlib.sha256(f"{portfolio}:{digits}".encode()).hexdigest()[:16], 16)
    return f"{country}.{number}"


def new_wamid():
    raw = b"\x15\x02\x00\x11\x18\x12" + secrets.token_hex(10).upper().encode()
    return "wamid." + base64.b64encode(raw).decode().rstrip("=") + "="


@dataclass
class Account:
    phone_number_id: str
    waba_id: str
    app_id: str
    token: str
    app_secret: str
    display_phone_number: str = "+1 555 000 0001"
    verified_name: str = "Sandbox Co"
    quality_rating: str = "GREEN"
    throughput_level: str = "STANDARD"
    name_status: str = "APPROVED"
    code_verification_status: str = "VERIFIED"
    messaging_limit: str = "TIER_1K"
    platform_type: str = "CLOUD_API"
    account_mode: str = "LIVE"
    latency: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def display_digits(self):
        return "".join(c for c in self.display_phone_number if c.isdigit())

    def phone_info(self):
        info = {
            "id": self.phone_number_id,
            "verified_name": self.verified_name,
            "display_phone_number": self.display_phone_number,
            "quality_rating": self.quality_rating,
            "code_verification_status": self.code_verification_status,
            "name_status": self.name_status,
            "platform_type": self.platform_type,
            "throughput": {"level": self.throughput_level},
            "whatsapp_business_manager_messaging_limit": self.messaging_limit,
            "messaging_limit_tier": self.messaging_limit,
            "account_mode": self.account_mode,
            "is_official_business_account": False,
        }
        info.update({k: v for k, v in self.extra.items() if k != "profile"})  # the profile has its own node
        return info


@dataclass
class Template:
    id: str
    waba_id: str
    name: str
    language: str
    category: str
    components: list
    status: str = "PENDING"
    parameter_format: str = "POSITIONAL"
    rejected_reason: str = "NONE"
    quality_score: str = "UNKNOWN"
    quality_date: int = None  # when the score was last set (unix time); Meta returns it as quality_score.date
    sub_category: str = None
    message_send_ttl_seconds: int = None
    edits: list = field(default_factory=list)  # timestamps of edits made while APPROVED
    pauses: int = 0

    def to_graph(self):
        data = {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "components": self.components,
            "parameter_format": self.parameter_format,
            "quality_score": {"score": self.quality_score, "date": self.quality_date or 0},
        }
        if self.status == "REJECTED":
            data["rejected_reason"] = self.rejected_reason
        if self.sub_category:
            data["sub_category"] = self.sub_category
        if self.message_send_ttl_seconds is not None:
            data["message_send_ttl_seconds"] = self.message_send_ttl_seconds
        return data


@dataclass
class Media:
    id: str
    data: bytes
    mime_type: str
    filename: str
    phone_number_id: str
    sha256: str = ""
    deleted: bool = False

    def __post_init__(self):
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()


class State:
    """All mutable data, guarded by one lock (``state.lock``)."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.accounts = {}  # phone_number_id -> Account
        self.reset()

    def reset(self):
        with self.lock:
            self.templates = {}  # id -> Template
            self.media = {}  # id -> Media
            self.uploads = {}  # upload session id -> dict
            self.handles = {}  # resumable-upload handle "h" -> session
            self.requests = []
            self.sent_messages = []
            self.messages_by_wamid = {}  # outbound and inbound records
            self.conversations = {}  # (pnid, wa_id) -> list of records
            self.customers = {}  # wa_id -> profile name
            self.users = {}  # BSUID -> wa_id (None for a username user whose number Meta does not give)
            self.last_inbound = {}  # (pnid, wa_id) -> timestamp

    def next_id(self, prefix):
        # Graph ids are long digit strings; keep them unique per process and recognisable per kind.
        return f"{prefix}{int(self.clock() * 1000) % 10**10:010d}{next(self._ids):06d}"

    # accounts -----------------------------------------------------------------------------------------
    def account_by_waba(self, waba_id):
        for acc in self.accounts.values():
            if acc.waba_id == waba_id:
                return acc
        return None

    def account_by_app(self, app_id):
        for acc in self.accounts.values():
            if acc.app_id == app_id:
                return acc
        return None

    def account_by_token(self, token):
        for acc in self.accounts.values():
            if token and secrets.compare_digest(acc.token, token):
                return acc
        return None

    def accounts_by_waba(self, waba_id):
        return [a for a in self.accounts.values() if a.waba_id == waba_id]

    # users ------------------------------------------------------------------------------------------
    def user_id(self, wa_id):
        """BSUID of the customer ``wa_id`` (a conversation key: a number, or a BSUID for a username user)."""
        if wa_id in self.users:
            return wa_id
        bsuid = bsuid_for(wa_id)
        with self.lock:
            self.users.setdefault(bsuid, wa_id)
        return bsuid

    def resolve_recipient(self, to=None, recipient=None):
        """(conversation key, wa_id or None, BSUID) of a send's ``to`` / ``recipient``."""
        if recipient:
            wa_id = self.users.get(recipient)
            return (wa_id or recipient), wa_id, recipient
        wa_id = "".join(c for c in str(to or "") if c.isdigit())
        return wa_id, wa_id, (self.user_id(wa_id) if wa_id else None)

    # messages -----------------------------------------------------------------------------------------
    def record_message(self, record):
        """``record``: dict with wamid, direction ("out"/"in"), phone_number_id, wa_id, type, payload..."""
        with self.lock:
            self.messages_by_wamid[record["wamid"]] = record
            self.conversations.setdefault((record["phone_number_id"], record["wa_id"]), []).append(record)
            if record["direction"] == "out":
                self.sent_messages.append(record)
            else:
                self.last_inbound[(record["phone_number_id"], record["wa_id"])] = record["time"]

    def window_open(self, pnid, wa_id):
        last = self.last_inbound.get((pnid, wa_id))
        return last is not None and self.clock() - last < 24 * 3600

    def conversation_list(self, phone=None):
        with self.lock:
            out = []
            for (pnid, wa_id), records in self.conversations.items():
                if phone and wa_id != "".join(c for c in phone if c.isdigit()):
                    continue
                out.append(
                    {
                        "phone_number_id": pnid,
                        "wa_id": wa_id,
                        "name": self.customers.get(wa_id),
                        "messages": [_public(r) for r in records],
                    }
                )
            return out


def _public(record):
    return {k: v for k, v in record.items() if not k.startswith("_")}
