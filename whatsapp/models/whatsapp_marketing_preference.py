import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)


class WhatsAppMarketingPreference(models.Model):
    """A customer's choice about marketing messages, made in the WhatsApp app (not with a STOP keyword).

    Meta tells it by the ``user_preferences`` webhook (category ``marketing_messages``, value ``stop`` or
    ``resume``) or by error 131050 on a send. A stopped number gets no Marketing template (failed as opted out
    before any call to Meta); Utility and Authentication templates and conversations still go. Unlike
    ``phone.blacklist`` (every message), only marketing is concerned. One row per normalised number.
    """

    _name = "whatsapp.marketing.preference"
    _description = "WhatsApp Marketing Preference"
    _order = "date desc, id desc"
    _rec_name = "number"

    number = fields.Char(readonly=True, help="E.164 number (+ and digits).")
    bsuid = fields.Char(
        "WhatsApp User ID",
        readonly=True,
        index="btree_not_null",
        help="Business-scoped user id of a customer known by a WhatsApp username, when Meta gave no number.",
    )
    state = fields.Selection(
        [("stopped", "Marketing Stopped"), ("resumed", "Marketing Resumed")],
        required=True,
        readonly=True,
        default="stopped",
    )
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    source = fields.Selection(
        [("webhook", "WhatsApp App (webhook)"), ("error", "Meta Error 131050")], required=True, readonly=True
    )
    account_id = fields.Many2one("whatsapp.account", "Account", readonly=True, ondelete="set null")
    detail = fields.Char(readonly=True, help="Meta's text, e.g. “User requested to stop marketing messages”.")

    _sql_constraints = [
        ("number_unique", "unique(number)", "One marketing preference per number."),
        ("bsuid_unique", "unique(bsuid)", "One marketing preference per WhatsApp user id."),
        (
            "number_or_bsuid",
            "CHECK(number IS NOT NULL OR bsuid IS NOT NULL)",
            "A number or a user id is needed.",
        ),
    ]

    @api.model
    def _normalise(self, number):
        """E.164 (``+`` and digits) through ``phone_validation``, from a wa_id or any written number."""
        raw = str(number or "").strip()
        if not raw:
            return False
        if not raw.startswith("+"):
            raw = "+" + raw
        digits = "+" + "".join(c for c in raw if c.isdigit())
        return self.env["whatsapp.account"]._phone_format(number=raw, force_format="E164") or digits

    @api.model
    def _set_preference(self, number, state, source, account=None, date=None, detail=None, bsuid=None):
        """Record a stop or resume for ``number`` (else for the user id ``bsuid``, a customer known by a
        WhatsApp username); an older event never overrides a newer one.

        :return: the preference (empty when neither is valid or the event is older)
        """
        number = self._normalise(number)
        key = ("number", number) if number else ("bsuid", bsuid)
        if not key[1]:
            return self.browse()
        date = date or fields.Datetime.now()
        vals = {"state": state, "source": source, "date": date, "detail": detail or False}
        if account:
            vals["account_id"] = account.id
        preference = self.search([(key[0], "=", key[1])], limit=1)
        if preference:
            if preference.date > date:
                return self.browse()
            preference.write(vals)
        else:
            preference = self.create({key[0]: key[1], **vals})
        _logger.info("WhatsApp: marketing %s for %s (%s)", state, key[1], source)
        return preference

    @api.model
    def _stopped_numbers(self, numbers, bsuids=()):
        """Of ``numbers`` (E.164) and user ids ``bsuids``, those that stopped marketing messages (one query)."""
        numbers = [n for n in set(numbers) if n]
        bsuids = [b for b in set(bsuids) if b]
        if not numbers and not bsuids:
            return set()
        self.flush_model(["number", "bsuid", "state"])
        self.env.cr.execute(
            """SELECT COALESCE(number, bsuid) FROM whatsapp_marketing_preference
                WHERE state = 'stopped' AND (number = ANY(%s) OR bsuid = ANY(%s))""",
            [numbers, bsuids],
        )
        return {row[0] for row in self.env.cr.fetchall()}
