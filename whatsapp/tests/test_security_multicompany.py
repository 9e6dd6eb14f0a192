from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_discuss import WhatsAppDiscussCase


@tagged("post_install", "-at_install", "whatsapp")
class TestSecurityMultiCompany(WhatsAppDiscussCase):
    def test_phone_number_unique_across_companies(self):
        """An administrator of another company cannot connect a number already connected elsewhere."""
        with self.assertRaises(ValidationError):
            self.env["whatsapp.account"].with_user(self.user_other_company).create(
                {"name": "Copy", "phone_uid": self.account.phone_uid, "account_uid": "2000009", "app_uid": "3",
                 "token": "t", "app_secret": "s", "allowed_company_ids": [(6, 0, self.company_2.ids)]}
            )  # fmt: skip

    def test_statuses_within_the_receiving_account(self):
        """A status arriving for another account never moves a message (wamid or uuid guessed or reused)."""
        other = self._create_account(name="Other", phone_uid="1000007", account_uid="2000007", app_secret="o")
        message = (
            self.env["whatsapp.message"]
            .sudo()
            .create(  # sudo: fixture, a sent message
                {
                    "account_id": self.account.id,
                    "number": "+33612345678",
                    "state": "sent",
                    "wamid": "wamid.X1",
                }
            )
        )
        statuses = [{"id": "wamid.X1", "status": "read", "timestamp": "1700000000"},
                    {"id": "wamid.nope", "biz_opaque_callback_data": message.uuid, "status": "failed"}]  # fmt: skip
        self.env["whatsapp.message"]._apply_meta_statuses(other, statuses)
        self.assertEqual(message.state, "sent")
        self.env["whatsapp.message"]._apply_meta_statuses(self.account, statuses[:1])
        self.assertEqual(message.state, "read")

    def test_inbound_partner_of_the_account_companies(self):
        """An inbound number matches only the contacts the account's companies may see."""
        foreign = self.env["res.partner"].create(
            {"name": "Other company's contact", "mobile": "+33612345611", "company_id": self.company_2.id}
        )
        inbound = self.receive(
            self._inbound("text", {"body": "Hi"}, from_="33612345611"), from_="33612345611"
        )
        chat = self.env["discuss.channel"].browse(inbound.res_id)
        self.assertNotIn(foreign, chat.channel_member_ids.partner_id)
        self.assertEqual(self.env["res.partner"].search_count([("phone_sanitized", "=", "+33612345611")]), 2)
