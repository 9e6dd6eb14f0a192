import json
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.tests import tagged
from odoo.tools import SQL

from .common_discuss import WhatsAppDiscussCase
from .common_i18n import I18nCheckMixin

T0 = datetime(2026, 3, 2, 9, 0, 0)


@tagged("whatsapp", "post_install", "-at_install")
class TestDiscussRouting(I18nCheckMixin, WhatsAppDiscussCase):
    """The 15-day routing of both flows and the notification rules (see ``discuss_channel.py``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_operator_2 = mail_new_test_user(
            cls.env, login="wa_operator_2", groups="base.group_user,whatsapp.group_whatsapp_user", name="Olga"
        )
        cls.account.sudo().notify_user_ids = [(6, 0, (cls.user_wa_admin | cls.user_operator_2).ids)]
        cls.customer = cls.env["res.partner"].create({"name": "Ana", "mobile": "+33 6 12 34 56 78"})

    def send_template(self, user):
        with self.mock_wa_send():
            messages = self.customer.with_user(user)._whatsapp_send_template(
                self.template.with_user(user), queue=False
            )
        self.assertEqual(messages.state, "sent")
        return messages

    def test_customer_initiated(self):
        with freeze_time(T0):
            self.receive_text("Hi")
        chat = self.chat()
        self.assertEqual(self.member_users(chat), self.user_wa_admin | self.user_operator_2)
        self.assertEqual(chat.whatsapp_partner_id, self.customer)
        member = chat.sudo().channel_member_ids.filtered(
            lambda m: m.partner_id == self.user_wa_admin.partner_id
        )
        self.assertTrue(member.is_pinned, "the chat shows in their Discuss")

    def test_company_initiated_answer_within_15_days(self):
        with freeze_time(T0):
            template_message = self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(days=14)):
            answer = self.receive_text("Yes please")
        chat = self.chat()
        self.assertEqual(self.member_users(chat), self.user_wa, "only the sender, not the notify users")
        self.assertEqual(answer.whatsapp_answered_message_id, template_message)
        # the Messages list: both are the customer's and about the record the template was sent from
        for message in template_message | answer:
            self.assertEqual(message.partner_id, self.customer)
            self.assertEqual((message.record_model, message.record_res_id), ("res.partner", self.customer.id))
        note = self.customer.message_ids.filtered(lambda m: "answered the WhatsApp template" in str(m.body))
        self.assertEqual(len(note), 1)
        self.assertIn(f"discuss.channel_{chat.id}", str(note.body), "a link to the chat")
        self.assertIn("answered the WhatsApp template “Order Ready”: <a", str(note.body))
        context = self.chat_messages(chat).filtered(lambda m: m.message_type == "notification")
        self.assertEqual(len(context), 1, "the chat says which template and record are answered")
        self.assertIn("answers “", str(context.body))
        self.assertEqual(context.author_id, self.customer)
        self.assertIn(f"/odoo/res.partner/{self.customer.id}", str(context.body), "a link to the record")
        self.assertLess(context.id, answer.mail_message_id.id, "shown before the answer")
        # the conversation now runs: later messages only reach its members
        with freeze_time(T0 + timedelta(days=14, hours=1)):
            later = self.receive_text("Anything else?")
        self.assertEqual(self.member_users(chat), self.user_wa)
        self.assertEqual(later.partner_id, self.customer)
        self.assertFalse(later.record_res_id, "a message of the chat only: no business record")

    def bus_notifications(self, target, after_id):
        """``[(type, payload)]`` sent to ``target`` on the bus after the bus message ``after_id``."""
        self.env.cr.precommit.run()  # the bus messages are created just before the commit
        rows = (
            self.env["bus.bus"]
            .sudo()
            .search(
                [
                    ("id", ">", after_id),
                    ("channel", "=", json_dump(channel_with_db(self.env.cr.dbname, target))),
                ],
                order="id",
            )
        )
        return [(msg["type"], msg["payload"]) for msg in map(json.loads, rows.mapped("message"))]

    def last_bus_id(self):
        self.env.cr.precommit.run()
        return self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id

    def test_answer_pushed_live(self):
        """The answer's note reaches a form view showing the record (a push naming the record, its chatter
        fetches the note); the context in the chat is silent (no toast of its own), the answer is not."""
        with freeze_time(T0):
            self.send_template(self.user_wa)
        before = self.last_bus_id()
        with freeze_time(T0 + timedelta(hours=1)):
            answer = self.receive_text("Yes please")
        joined = [
            payload
            for kind, payload in self.bus_notifications(self.user_wa.partner_id, before)
            if kind == "discuss.channel/joined"
        ]
        self.assertEqual(len(joined), 1, "the chat opens for the sender of the template")
        self.assertTrue(joined[0]["open_chat_window"])
        self.assertNotIn("invited_by_user_id", joined[0], "nobody invited them: no invitation toast")
        pushed = self.bus_notifications(self.env.ref("base.group_user"), before)
        self.assertEqual(
            pushed, [("whatsapp/thread_update", {"model": "res.partner", "id": self.customer.id})]
        )
        chat = self.chat()
        new_messages = [
            payload
            for kind, payload in self.bus_notifications(chat, before)
            if kind == "discuss.channel/new_message"
        ]
        self.assertEqual(len(new_messages), 2, "the context, then the answer")
        context, posted = new_messages
        self.assertIn("answers “", context["data"]["mail.message"][0]["body"])
        self.assertTrue(context.get("silent"), "the context is no toast")
        self.assertEqual(posted["data"]["mail.message"][0]["id"], answer.mail_message_id.id)
        self.assertFalse(posted.get("silent"), "the customer's answer is one")
        # a message that answers no template pushes nothing to records
        before = self.last_bus_id()
        with freeze_time(T0 + timedelta(hours=2)):
            self.receive_text("Anything else?")
        self.assertEqual(self.bus_notifications(self.env.ref("base.group_user"), before), [])

    def test_answer_written_in_the_company_language(self):
        """The webhook runs as the superuser (English): the chat's context and the record's note are written
        in the language of the account's company."""
        self._load_french(["whatsapp"])
        self.env.company.partner_id.lang = "fr_FR"
        self.account.sudo().allowed_company_ids = self.env.company
        with freeze_time(T0):
            self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(hours=1)):
            self.receive_text("Oui")
        context = self.chat_messages(self.chat()).filtered(lambda m: m.message_type == "notification")
        self.assertIn("répond à « ", str(context.body))
        note = self.customer.message_ids.filtered(lambda m: "discuss.channel_" in str(m.body))
        self.assertIn("Le client a répondu au modèle WhatsApp", str(note.body))
        self.assertIn("ouvrir la discussion", str(note.body))

    def test_answer_stamped_before_the_send(self):
        """Meta's clock may be behind Odoo's: a quick answer stamped before the template still answers it."""
        with freeze_time(T0):
            template_message = self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(seconds=20)):
            answer = self.receive(self._inbound("text", {"body": "Yes"}, timestamp=self._ts(T0, -30)))
        self.assertEqual(answer.whatsapp_answered_message_id, template_message)
        self.assertEqual(self.member_users(self.chat()), self.user_wa)

    def test_message_sent_before_the_template(self):
        """A message stamped well before the template (sent before it, delivered late) does not answer it."""
        with freeze_time(T0):
            self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(seconds=20)):
            answer = self.receive(self._inbound("text", {"body": "Hi"}, timestamp=self._ts(T0, -600)))
        self.assertFalse(answer.whatsapp_answered_message_id)
        self.assertEqual(self.member_users(self.chat()), self.user_wa_admin | self.user_operator_2)

    @staticmethod
    def _ts(moment, seconds=0):
        """Meta's timestamp (epoch seconds, string) of the UTC ``moment`` shifted by ``seconds``."""
        return str(int((moment + timedelta(seconds=seconds)).replace(tzinfo=UTC).timestamp()))

    def test_company_initiated_answer_after_15_days(self):
        with freeze_time(T0):
            self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(days=15, minutes=1)):
            answer = self.receive_text("Late answer")
        self.assertEqual(self.member_users(self.chat()), self.user_wa_admin | self.user_operator_2)
        self.assertFalse(answer.whatsapp_answered_message_id)

    def test_running_conversation_then_15_days_silence(self):
        with freeze_time(T0):
            self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(days=1)):
            self.receive_text("Answer")
            chat = self.chat()
            chat.with_user(self.user_wa).message_post(body="Operator answer", message_type="comment")
        with freeze_time(T0 + timedelta(days=10)):
            self.receive_text("Still there?")
        self.assertEqual(self.member_users(chat), self.user_wa, "conversation running: members only")
        with freeze_time(T0 + timedelta(days=26)):
            self.receive_text("Hello again")
        self.assertEqual(
            self.member_users(chat),
            self.user_wa | self.user_wa_admin | self.user_operator_2,
            "no operator answer for 15 days: every notify user again",
        )

    def test_template_answered_once(self):
        """A second message after the answer is no longer "the answer to the template"."""
        with freeze_time(T0):
            self.send_template(self.user_wa)
        with freeze_time(T0 + timedelta(hours=1)):
            first = self.receive_text("one")
            second = self.receive_text("two")
        self.assertTrue(first.whatsapp_answered_message_id)
        self.assertFalse(second.whatsapp_answered_message_id)

    def test_answered_template_found_by_index(self):
        """The answered template is looked up by the customer's number on the account's templates, not among
        every message of the account (an index; 12 ms a reply at 10,000 messages without, growing)."""
        with freeze_time(T0):
            self.send_template(self.user_wa)
        lookups = []
        execute = type(self.env.cr).execute

        def spy(cr, query, params=None, log_exceptions=True):
            code, args = (query.code, query.params) if isinstance(query, SQL) else (query, params)
            if 'FROM "whatsapp_message"' in code and '"whatsapp_message"."number" =' in code:
                lookups.append((code, args))
            return execute(cr, query, params, log_exceptions)

        with freeze_time(T0 + timedelta(hours=1)), patch.object(type(self.env.cr), "execute", spy):
            answer = self.receive_text("Yes please")
        self.assertTrue(answer.whatsapp_answered_message_id)
        self.assertTrue(lookups)
        # a test table is small: judge the indexes alone
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        for code, args in lookups:
            self.env.cr.execute(f"EXPLAIN {code}", args)
            plan = "\n".join(row[0] for row in self.env.cr.fetchall())
            self.assertIn("whatsapp_message_number_template_idx", plan)
        self.env.cr.execute("RESET enable_seqscan")

    def test_add_users_to_chat(self):
        """Seed "Add users to a chat": an operator invites a colleague."""
        with freeze_time(T0):
            self.receive_text("Hi")
            chat = self.chat()
            chat.with_user(self.user_wa_admin).add_members(partner_ids=self.user_wa.partner_id.ids)
        self.assertIn(self.user_wa, self.member_users(chat))
