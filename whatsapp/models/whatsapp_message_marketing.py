"""Marketing preferences in the sending queue: stopped numbers get no Marketing template; 131050 records it."""

from odoo import models

OPT_OUT_CODE = 131050  # the user stopped marketing messages (cloud-api-facts.md §6)


class WhatsAppMessage(models.Model):
    _inherit = "whatsapp.message"

    def _send_prepare(self):
        """Fail Marketing-template messages to numbers that stopped marketing, before any call to Meta.

        The other messages (Utility, Authentication, conversations) go through the normal preparation.
        """
        stopped = self._marketing_stopped()
        if not stopped:
            return super()._send_prepare()
        rest = self - stopped
        jobs, outcomes = super(WhatsAppMessage, rest)._send_prepare() if rest else ([], {})
        for message in stopped:
            reason = self.env._(
                "%(number)s stopped marketing messages in WhatsApp: Marketing templates are not sent to it "
                "until the customer resumes them.",
                number=message.number,
            )
            outcomes[message.id] = self._outcome_failed("opt_out", reason)  # no Meta code: never sent
        return jobs, outcomes

    def _marketing_stopped(self):
        """These messages that are Marketing templates to numbers that stopped marketing (one query)."""
        marketing = self.filtered(lambda m: m.number and m.template_id.category == "marketing")
        if not marketing:
            return marketing
        stopped = self.env["whatsapp.marketing.preference"]._stopped_numbers(marketing.mapped("number"))
        return marketing.filtered(lambda m: m.number in stopped)

    def _send_write(self, results, outcomes):
        written = super()._send_write(results, outcomes)
        written._record_marketing_stops()
        return written

    def _apply_meta_statuses(self, account, statuses, own_sending=False):
        messages = super()._apply_meta_statuses(account, statuses, own_sending=own_sending)
        messages._record_marketing_stops()
        return messages

    def _record_marketing_stops(self):
        """Meta answered 131050 (now or by a failed status): the number stopped marketing messages."""
        Preference = self.env["whatsapp.marketing.preference"]
        for message in self.filtered(lambda m: m.error_code == OPT_OUT_CODE and m.number):
            Preference._set_preference(message.number, "stopped", "error", account=message.account_id)
