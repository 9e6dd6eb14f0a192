import copy
from unittest.mock import patch

from odoo.tests import tagged

from .common import import_sandbox
from .common_discuss import CUSTOMER_E164, WhatsAppDiscussCase


def spec_message_examples():
    """``{name: value}`` of every ``messages`` example of the spec's webhook endpoint (None: no sandbox)."""
    if import_sandbox() is None:
        return None
    from meta_sandbox.spec import load_document  # noqa: PLC0415 - located at run time (tests only)

    examples = load_document()["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    result = {}
    for name, example in examples.items():
        for entry in example["value"]["entry"]:
            for change in entry["changes"]:
                if change["field"] == "messages" and change["value"].get("messages"):
                    result[name] = change["value"]
    return result


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussInbound(WhatsAppDiscussCase):
    def test_spec_examples(self):
        """Every example payload of Meta's spec shows something visible in a chat."""
        examples = spec_message_examples()
        if examples is None:
            self.skipTest("meta_sandbox is not importable")
        expected = {
            "Text Message": "Does it come in another color?",
            "Text Message with Context (Product Inquiry)": "Is this still available?",
            "Text Message from Click to WhatsApp Ad": "Summer Succulents",
            "Reaction Message": "Reacted 👍 to a message not found in this chat.",
            "Image Message": "Image: downloading",
            "Location Message": "openstreetmap.org/?mlat=37.44221496582",
            "Contact Sharing Message": "Lucía Gómez",
            "Unsupported Message": "Message type is currently not supported.",
            "Button Message": "Unsubscribe",
            "Interactive List Reply Message": "Priority Mail Express",
            "Interactive Button Reply Message": "Cancel",
            "Order Message": "85 USD",
            "System Message": "changed from 16505551234 to 12195555358",
        }
        self.assertEqual(set(examples), set(expected))
        # the system message (number change) is for an existing chat: first one from this number
        self.receive_text("first", from_="16505551234")
        for name, value in examples.items():
            with self.subTest(example=name):
                before = self.env["mail.message"].sudo().search([]).ids
                account = self.account.sudo()
                # the examples share wamids: make each one unique so that none is taken for a duplicate
                value = copy.deepcopy(value)
                value["messages"][0]["id"] += name
                account._webhook_messages(value, self.env["whatsapp.webhook.event"])
                posted = (
                    self.env["mail.message"]
                    .sudo()
                    .search([("id", "not in", before), ("model", "=", "discuss.channel")])
                )
                self.assertEqual(len(posted), 1)
                self.assertIn(expected[name], str(posted.body))
                inbound = (
                    self.env["whatsapp.message"].sudo().search([("wamid", "=", value["messages"][0]["id"])])
                )
                self.assertEqual(inbound.direction, "inbound")
        # the number change moved the chat and the partner
        chat = self.chat("+12195555358")
        self.assertTrue(chat)
        self.assertEqual(chat.whatsapp_partner_id.phone_sanitized, "+12195555358")

    def test_types_and_placeholders(self):
        cases = [
            (self._inbound("text", {"body": "Hi <b>there</b>"}), "Hi &lt;b&gt;there&lt;/b&gt;"),
            (
                self._inbound("audio", {"id": "m1", "mime_type": "audio/ogg; codecs=opus", "voice": True}),
                "Voice message: downloading",
            ),
            (self._inbound("video", {"id": "m2", "mime_type": "video/mp4", "caption": "Look"}), "Look"),
            (
                self._inbound("document", {"id": "m3", "mime_type": "application/pdf", "filename": "q.pdf"}),
                "q.pdf",
            ),
            (self._inbound("sticker", {"id": "m4", "mime_type": "image/webp"}), "Sticker: downloading"),
            (self._inbound("request_welcome"), "opened the chat"),
            (self._inbound("poll", {"question": "?"}), "cannot deliver here (poll)"),
            (self._inbound("unknown", errors=[{"code": 131060, "title": "Message unavailable"}]), "131060"),
        ]
        for message, needle in cases:
            with self.subTest(kind=message["type"]):
                inbound = self.receive(message)
                self.assertEqual(len(inbound), 1)
                self.assertIn(needle, str(inbound.mail_message_id.body))
        chat = self.chat()
        self.assertEqual(len(self.chat_messages(chat)), len(cases), "one chat for the number")

    def test_duplicate_delivery(self):
        message = self._inbound("text", {"body": "once"})
        self.receive(message)
        self.receive(message)
        chat = self.chat()
        self.assertEqual(self.chat_messages(chat).mapped("body").count("<p>once</p>"), 1)

    def test_reply_quotes_parent(self):
        first = self.receive_text("question")
        second = self.receive(self._inbound("text", {"body": "more"}, context_id=first.wamid))
        self.assertEqual(second.mail_message_id.parent_id, first.mail_message_id)

    def test_reactions_inbound(self):
        first = self.receive_text("hello")
        target = first.mail_message_id
        self.receive(self._inbound("reaction", {"message_id": first.wamid, "emoji": "👍"}))
        self.assertEqual(target.sudo().reaction_ids.mapped("content"), ["👍"])
        self.receive(self._inbound("reaction", {"message_id": first.wamid, "emoji": "❤️"}))
        self.assertEqual(target.sudo().reaction_ids.mapped("content"), ["❤️"], "one reaction per person")
        self.receive(self._inbound("reaction", {"message_id": first.wamid}))
        self.assertFalse(target.sudo().reaction_ids, "removed")
        self.assertEqual(len(self.chat_messages(self.chat())), 1, "reactions post nothing")

    def test_edit_and_delete(self):
        first = self.receive_text("typo")
        self.receive(self._inbound("edit", {"original_message_id": first.wamid, "text": {"body": "fixed"}}))
        self.assertIn("fixed", str(first.mail_message_id.body))
        self.receive(self._inbound("revoke", {"original_message_id": first.wamid}))
        self.assertIn("deleted by the customer", str(first.mail_message_id.body))

    def test_contacts_add_as_contact(self):
        card = {
            "name": {"formatted_name": "Luc Gómez"},
            "phones": [{"phone": "+1 983 555 2319", "wa_id": "19835552319"}],
        }
        inbound = self.receive(self._inbound("contacts", [card]))
        self.user_wa_admin.groups_id += self.env.ref("base.group_partner_manager")
        action = inbound.with_user(self.user_wa_admin).action_whatsapp_add_contact(0)
        partner = self.env["res.partner"].browse(action["res_id"])
        self.assertEqual((partner.name, partner.phone_sanitized), ("Luc Gómez", "+19835552319"))
        again = inbound.with_user(self.user_wa_admin).action_whatsapp_add_contact(0)
        self.assertEqual(again["res_id"], partner.id, "a known number opens its contact, no duplicate")
        store = inbound.mail_message_id.with_user(self.user_wa_admin)._whatsapp_contact_values()
        self.assertEqual(
            list(store.values()),
            [{"whatsapp_contacts": [{"index": 0, "name": "Luc Gómez"}], "whatsapp_inbound_id": inbound.id}],
            "the chat knows the card, for its Add to contacts button",
        )


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussPartner(WhatsAppDiscussCase):
    def test_partner_matched_by_number(self):
        partner = self.env["res.partner"].create({"name": "Known", "mobile": "+33 6 12 34 56 78"})
        count = self.env["res.partner"].search_count([])
        self.receive_text(name="Profile Name")
        self.assertEqual(self.chat().whatsapp_partner_id, partner)
        self.assertEqual(self.env["res.partner"].search_count([]), count)

    def test_partner_created_with_profile_name(self):
        self.receive_text(name="Profile Name")
        partner = self.chat().whatsapp_partner_id
        self.assertEqual((partner.name, partner.phone_sanitized), ("Profile Name", CUSTOMER_E164))
        self.assertEqual(self.chat().name, "Profile Name", "the sidebar shows the customer's name")
        self.assertEqual(self.chat().description, CUSTOMER_E164, "the header shows the number")

    def test_odoobot_not_a_member(self):
        """The webhook runs as superuser (OdooBot), who creates the chat: OdooBot is not a member, and the
        customer is made a member with the chat, not invited after it (no bus message to nobody's client)."""
        self.receive_text(name="Profile Name")
        partners = self.chat().sudo().channel_member_ids.partner_id
        self.assertNotIn(self.env.ref("base.partner_root"), partners)
        self.assertIn(self.chat().whatsapp_partner_id, partners)
        self.env.cr.precommit.run()  # the bus messages are created just before the commit
        to_customer = (
            self.env["bus.bus"]
            .sudo()
            .search([("channel", "like", f'"res.partner",{self.chat().whatsapp_partner_id.id}]')])
        )
        self.assertFalse(to_customer.mapped("message"), "nothing is pushed to the customer's partner")

    def test_partner_matched_by_bsuid(self):
        partner = self.env["res.partner"].create({"name": "User Name", "whatsapp_bsuid": "US.123abc"})
        message = self._inbound("text", {"body": "no number"})
        del message["from"]
        message["from_user_id"] = "US.123abc"
        self.receive(message, contacts=[{"profile": {"name": "X"}, "user_id": "US.123abc"}])
        chat = self.env["discuss.channel"].sudo().search([("whatsapp_bsuid", "=", "US.123abc")])
        self.assertEqual(chat.whatsapp_partner_id, partner)
        # the BSUID is learnt when the number comes with it
        self.receive(
            self._inbound("text", from_="33600000001"),
            contacts=[{"profile": {"name": "Y"}, "wa_id": "33600000001", "user_id": "US.new"}],
        )
        self.assertEqual(self.chat("+33600000001").whatsapp_partner_id.whatsapp_bsuid, "US.new")

    def test_number_lookup_uses_an_index(self):
        """The inbound lookup ("phone_sanitized = <E.164>") has an index of its own. Read from the catalog, not
        from a plan: res_partner had rows updated when the index was built, so PostgreSQL lets only transactions
        whose snapshot is younger than the index use it (``indcheckxmin``), and any transaction open elsewhere in
        the cluster meanwhile (another database's) makes a plan here a sequential scan."""
        self.env.cr.execute(
            """SELECT pg_get_indexdef(i.indexrelid), pg_get_expr(i.indpred, i.indrelid)
                 FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = 'res_partner'::regclass AND a.attname = 'phone_sanitized' AND i.indisvalid"""
        )
        indexes = self.env.cr.fetchall()
        self.assertTrue(indexes, "an index leads with the number")
        self.assertTrue(
            any(predicate in (None, "(phone_sanitized IS NOT NULL)") for _definition, predicate in indexes),
            f"its condition holds for every number looked up: {indexes}",
        )

    def test_webhook_never_calls_meta_synchronously(self):
        """Media are only queued by the webhook: no Graph call while it is processed."""
        with patch("odoo.addons.whatsapp.tools.graph_api.GraphClient._request", side_effect=AssertionError):
            inbound = self.receive(self._inbound("image", {"id": "m9", "mime_type": "image/jpeg"}))
        self.assertEqual(inbound.media_state, "pending")
