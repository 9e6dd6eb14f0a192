from unittest.mock import patch

from odoo import SUPERUSER_ID
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common_messages import WhatsAppMessageCase
from .common_templates import WhatsAppTemplateCase


@tagged("whatsapp", "post_install", "-at_install")
class TestSendBatchRights(WhatsAppTemplateCase):
    """The thread API renders a selection with one rights check per hop of each field path for all the
    records (``_get_variable_values_batch``): the same records and fields are checked as record by record."""

    def _children(self, parents):
        return self.env["res.partner"].create(
            [
                {"name": f"Child {i}", "parent_id": parent.id, "mobile": f"+32 470 00 00 {i:02d}"}
                for i, parent in enumerate(parents)
            ]
        )

    def test_batch_values(self):
        parents = self.env["res.partner"].create([{"name": f"Parent {i}"} for i in range(3)])
        children = self._children(parents).with_user(self.user_wa)
        self.template_partner.variable_ids.filtered(lambda v: v.key == "body-1").field_name = "parent_id.name"
        messages = children._whatsapp_send_template(
            self.template_partner.with_user(self.user_wa), free_text={"body-2": "R1"}, queue=True
        )
        self.assertEqual(
            [m.payload["template"]["components"][0]["parameters"] for m in messages],
            [[{"type": "text", "text": f"Parent {i}"}, {"type": "text", "text": "R1"}] for i in range(3)],
        )
        self.assertEqual(messages.mapped("body")[0], "Hello Parent 0, your reference is R1. See you soon!")

    def test_batch_refused_for_one_forbidden_hop(self):
        """One record among many whose parent the sender may not read (another company, even cached):
        the whole send is refused and nothing is created."""
        visible = self.env["res.partner"].create([{"name": f"Parent {i}"} for i in range(3)])
        secret = self.env["res.partner"].create({"name": "Secret Parent", "company_id": self.company_2.id})
        children = self._children(visible | secret).with_user(self.user_wa)
        self.template_partner.variable_ids.filtered(lambda v: v.key == "body-1").field_name = "parent_id.name"
        self.assertEqual(secret.name, "Secret Parent")  # in the cache, read as administrator
        count = self.env["whatsapp.message"].search_count([])
        with self.assertRaises(AccessError):
            children._whatsapp_send_template(
                self.template_partner.with_user(self.user_wa), free_text={"body-2": "R1"}, queue=True
            )
        self.assertEqual(self.env["whatsapp.message"].search_count([]), count)


@tagged("whatsapp", "post_install", "-at_install")
class TestChatterPush(WhatsAppMessageCase):
    def _pushes(self, notify):
        """``{partner: sorted [(message id, [notification statuses])]}`` pushed over the bus by ``notify()``."""
        pushes = {}

        def capture(partner, store):
            result = store.get_result()
            statuses = {n["id"]: n["notification_status"] for n in result.get("mail.notification", [])}
            pushes[partner] = sorted(
                (m["id"], sorted(statuses[n] for n in m["notifications"])) for m in result["mail.message"]
            )

        with patch.object(type(self.env["res.partner"]), "_bus_send_store", capture):
            notify()
        return pushes

    def test_status_push_same_as_mail(self):
        """The batched push sends what ``_notify_message_notification_update`` sends, per author (but to
        the superuser's partner)."""
        partners = self.partners.with_user(self.user_wa)
        with self.mock_wa_send():
            messages = partners._whatsapp_send_template(self.template.with_user(self.user_wa), queue=True)
            self.env["whatsapp.message"]._process_queue()
        messages = messages.sudo()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        ours = self._pushes(messages._notify_chatter)
        mails = self._pushes(messages.mail_message_id._notify_message_notification_update)
        self.assertEqual(ours, mails)
        self.assertIn(self.user_wa.partner_id, ours, "the author sees the icons change")
        self.assertEqual(len(ours[self.user_wa.partner_id]), 3)
        # the author is the current user: one push, each message once
        as_author = messages.with_user(self.user_wa)
        ours = self._pushes(as_author._notify_chatter)
        self.assertEqual(ours, self._pushes(as_author.mail_message_id._notify_message_notification_update))
        self.assertEqual(list(ours), [self.user_wa.partner_id])
        self.assertEqual(len(ours[self.user_wa.partner_id]), 3)
        # as the webhook and the cron run (the superuser): mail also pushes to the current user's partner,
        # OdooBot, which has no session; ours does not
        as_root = messages.with_env(self.env)
        self.assertEqual(as_root.env.uid, SUPERUSER_ID)
        root = self.env.user.partner_id
        ours = self._pushes(as_root._notify_chatter)
        mails = self._pushes(as_root.mail_message_id._notify_message_notification_update)
        self.assertIn(root, mails)
        self.assertNotIn(root, ours)
        del mails[root]
        self.assertEqual(ours, mails)
        self.assertEqual(list(ours), [self.user_wa.partner_id])

    def test_status_push_lean_unless_failing(self):
        """A status that is no failure pushes what changed (ticks, notification status), not the message's
        body, author and record name; a failure pushes mail's whole message (the failure icon and the
        messaging menu need the record's name)."""
        partners = self.partners[:2].with_user(self.user_wa)
        with self.mock_wa_send():
            messages = partners._whatsapp_send_template(self.template.with_user(self.user_wa), queue=True)
            self.env["whatsapp.message"]._process_queue()
        messages = messages.sudo()
        results = []

        def capture(partner, store):
            results.append(store.get_result())

        messages[1].write({"state": "failed", "failure_reason": "Meta said no"})
        with patch.object(type(self.env["res.partner"]), "_bus_send_store", capture):
            messages._update_notifications()
        self.assertEqual(len(results), 1, "one push to the author")
        by_id = {m["id"]: m for m in results[0]["mail.message"]}
        ok, failed = (by_id[m.mail_message_id.id] for m in messages)
        self.assertEqual(ok["whatsapp_status"], "sent")
        self.assertNotIn("body", ok, "no body for a tick")
        self.assertEqual(failed["whatsapp_status"], "failed")
        self.assertIn("body", failed)
        threads = {(t["model"], t["id"]): t for t in results[0].get("mail.thread", [])}
        self.assertEqual(list(threads), [("res.partner", partners[1].id)], "the failing record's name only")
        self.assertIn(partners[1].display_name, threads[("res.partner", partners[1].id)].values())
        statuses = {n["id"]: n["notification_status"] for n in results[0]["mail.notification"]}
        self.assertEqual(
            sorted(statuses[n] for m in (ok, failed) for n in m["notifications"]), ["exception", "pending"]
        )
