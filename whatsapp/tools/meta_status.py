"""Ranks of message states: the one place that decides whether a delivery status may move a message.

Meta delivers statuses at least once and in no particular order (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object):
``delivered`` may arrive after ``read``, ``failed`` after ``sent``, the same status twice. A status is
applied only when it ranks strictly higher than the message's current state, which makes the update
monotonic and idempotent in one rule:

``queued < sending < sent < failed/bounced < delivered < read < played < replied``

* ``failed`` ranks above ``sent`` (Meta may accept a message, then fail to deliver it) but below
  ``delivered``: a failure is terminal unless a higher state is already known.
* ``played`` (a voice note was listened to) is ``read`` plus more; ``replied`` is set by an inbound
  answer quoting the message and is the highest state.
* A message failed by *us* with ``unknown_outcome`` (we could not tell whether Meta accepted it) ranks
  as ``sending``: any status from Meta settles it.

This module imports nothing from Odoo so it can be unit-tested without a database.
"""

#: Odoo state -> rank. States absent from this dict (``received``, ``cancelled``) never move.
STATE_RANK = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "bounced": 3,
    "delivered": 4,
    "read": 5,
    "played": 6,
    "replied": 7,
}

#: Meta status (``statuses[].status``) -> Odoo state. ``played`` (voice notes) is stored as ``read``:
#: it ranks above ``read`` so that a late ``read`` does not lower it, but users see it as read.
META_STATUS_TO_STATE = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}

#: Meta status -> rank used for the comparison (``played`` outranks ``read``).
META_STATUS_RANK = {
    "sent": STATE_RANK["sent"],
    "delivered": STATE_RANK["delivered"],
    "read": STATE_RANK["read"],
    "played": STATE_RANK["played"],
    "failed": STATE_RANK["failed"],
}


def current_rank(state, failure_type=None, played=False):
    """Rank of a stored message; ``None`` when statuses must never move it (inbound, cancelled)."""
    if state in ("failed", "bounced") and failure_type == "unknown_outcome":
        return STATE_RANK["sending"]
    if state == "read" and played:
        return STATE_RANK["played"]
    return STATE_RANK.get(state)


def should_apply(stored_rank, meta_status):
    """True when ``meta_status`` moves a message whose current rank is ``stored_rank`` forward."""
    new_rank = META_STATUS_RANK.get(meta_status)
    if stored_rank is None or new_rank is None:
        return False
    return new_rank > stored_rank


def best_status(statuses):
    """Highest-ranked Meta status of an iterable of Meta statuses (``None`` when none is known)."""
    known = [s for s in statuses if s in META_STATUS_RANK]
    return max(known, key=META_STATUS_RANK.__getitem__) if known else None
