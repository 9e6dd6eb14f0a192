from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.api import Transaction
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged, users

from ..models import whatsapp_message as whatsapp_message_module
from ..models.whatsapp_bulk_send import CHUNK_SIZE_PARAM
from ..tools.sender import SenderPool
from .common import WhatsAppHttpCase
from .common_messages import WhatsAppMessageMixin
from .common_templates import PNG_1PX, WhatsAppTemplateCase
from .test_whatsapp_composer import WhatsAppComposerMixin


class WorkerKilled(BaseException):
    """A worker dying mid-transaction: not an error the expansion may catch."""


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppBulkSend(WhatsAppComposerMixin, WhatsAppMessageMixin, WhatsAppTemplateCase):
    """A selection sent from the composer: one job stored in the request, expanded by the queue cron (as
    the sender), chunk by chunk."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Customer {i}", "mobile": f"+33 6 12 34 56 {i:02d}"} for i in range(5)]
        )
        cls.bulk = cls.env["res.partner"].create(
            [{"name": f"Bulk {i}", "mobile": f"+33 6 99 00 {i // 100:02d} {i % 100:02d}"} for i in range(100)]
        )
        cls.user_wa_2 = mail_new_test_user(
            cls.env,
            login="wa_user_2",
            groups="base.group_user,whatsapp.group_whatsapp_user",
            company_id=cls.company.id,
            name="Wendy User",
        )

    def _queue(self, records, template=None, **values):
        """Queue a bulk send from the composer as the current user; return it."""
        template = (template or self.template_partner).with_env(self.env)
        composer = self._composer(records.with_env(self.env), template, **values)
        action = composer.action_send_whatsapp()
        self.assertEqual(action["tag"], "display_notification")
        return self.env["whatsapp.bulk.send"].search([], limit=1)

    def _expand(self, one_chunk=False):
        """Run the cron's expansion as the cron does: as superuser (never the sender's environment).

        :param one_chunk: stop after one chunk (a deadline already passed)
        """
        root = self.env(user=SUPERUSER_ID, su=True)
        root["whatsapp.bulk.send"]._expand_queued(deadline=0 if one_chunk else None)
        self.env.invalidate_all()

    def _messages(self, job):
        return self.env["whatsapp.message"].sudo().search([("bulk_send_id", "=", job.id)], order="id")

    # ------------------------------------------------------------
    # QUEUE
    # ------------------------------------------------------------

    @users("wa_user")
    def test_queue_stores_one_job_and_nothing_else(self):
        cron = self.env.ref("whatsapp.ir_cron_whatsapp_message_queue").sudo()
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])
        chatter = self.env["mail.message"].sudo().search_count([("message_type", "=", "whatsapp_message")])
        free_text = self.template_partner.variable_ids.filtered(lambda v: v.field_type == "free_text")
        job = self._queue(self.customers)
        self.assertRecordValues(
            job,
            [
                {
                    "state": "queued",
                    "template_id": self.template_partner.id,
                    "account_id": self.account.id,
                    "res_model": "res.partner",
                    "res_ids": self.customers.ids,
                    "record_count": 5,
                    "done_count": 0,
                    "message_count": 0,
                    "create_uid": self.user_wa.id,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertEqual(job.free_text, {str(free_text.id): "REF-001"})
        self.assertEqual(job.display_name, "Partner greeting to 5 records")
        self.assertFalse(self.env["whatsapp.message"].sudo().search([("res_id", "in", self.customers.ids)]))
        self.assertEqual(
            self.env["mail.message"].sudo().search_count([("message_type", "=", "whatsapp_message")]), chatter
        )
        self.assertEqual(
            self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)]), triggers + 1
        )

    @users("wa_user")
    def test_queue_checks_like_before(self):
        """The composer's checks still run in the request: nothing is queued when they fail."""
        composer = self._composer(self.customers.with_env(self.env), self.template_partner)
        composer.free_text_ids.value = " "
        with self.assertRaises(UserError):
            composer.action_send_whatsapp()
        hidden = self.env["res.partner"].sudo().create({"name": "Secret", "company_id": self.company_2.id})
        composer = self._composer((self.customers | hidden).with_env(self.env), self.template_partner)
        with self.assertRaises(AccessError):
            composer.action_send_whatsapp()
        self.assertFalse(self.env["whatsapp.bulk.send"].sudo().search([]))

    @users("wa_user")
    def test_queue_query_count(self):
        """Queueing costs the same queries for 10 and 100 records (nothing per record), a handful in all.
        Created from code, the composer counts the recipients itself (the form sends the counts it showed).
        Compared rather than pinned: other installed modules add a query or two to partners' reads."""
        counts = {}
        for count in (5, 10, 100):  # 5: warm-up (ormcaches)
            records = self.bulk[:count].with_env(self.env)
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.cr.sql_log_count
            self._composer(records, self.template_partner).action_send_whatsapp()
            self.env.flush_all()
            counts[count] = self.cr.sql_log_count - start
        self.assertEqual(counts[10], counts[100], "no query per record")
        self.assertLessEqual(counts[100], 25)

    @users("wa_user")
    def test_recipients_counted_once(self):
        """The counts the form showed (sent back on save, force_save) are kept: the click on Send does not
        normalise every number again."""
        records = self.bulk[:20].with_env(self.env)
        composer = self._composer(
            records,
            self.template_partner,
            recipient_summary="as shown",
            recipient_valid_count=19,
            recipient_invalid_count=1,
        )
        composer.invalidate_recordset()
        self.assertRecordValues(
            composer,
            [{"recipient_summary": "as shown", "recipient_valid_count": 19, "recipient_invalid_count": 1}],
        )
        composer.template_id = False  # anything the counts depend on recomputes them
        composer.template_id = self.template_partner
        self.assertEqual(composer.recipient_valid_count + composer.recipient_invalid_count, 20)
        self.assertNotEqual(composer.recipient_summary, "as shown")

    @users("wa_user")
    def test_recipients_query_count(self):
        """Opening the composer on a selection reads the numbers in one query, not one per record."""
        counts = {}
        for count in (5, 10, 100):  # 5: warm-up (ormcaches)
            composer = self._composer(self.bulk[:count].with_env(self.env), self.template_partner)
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.cr.sql_log_count
            self.assertEqual(composer.recipient_valid_count + composer.recipient_invalid_count, count)
            counts[count] = self.cr.sql_log_count - start
        self.assertEqual(counts[10], counts[100])

    # ------------------------------------------------------------
    # EXPANSION
    # ------------------------------------------------------------

    @users("wa_user")
    def test_expansion_as_sender(self):
        """The cron renders each message with the sender's rights and identity (never as superuser): one
        message per record, in the records' chatter, authored by the sender."""
        template = self._create_template(
            name="Signed", template_name="signed", body="Hello {{1}}, {{2}} here. See you soon!",
            variables={
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Ana"},
                "body-2": {"field_type": "user_name", "demo_value": "Walter"},
            },
            status="approved", meta_uid="900020",
        )  # fmt: skip
        job = self._queue(self.customers, template)
        with self.mock_wa_send():
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        messages = self._messages(job)
        self.assertEqual(messages.mapped("res_id"), self.customers.ids)
        self.assertEqual(messages.mapped("body")[0], "Hello Customer 0, Walter User here. See you soon!")
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(messages.mail_message_id.author_id, self.user_wa.partner_id)
        self.assertEqual(set(messages.mail_message_id.mapped("res_id")), set(self.customers.ids))
        self.assertRecordValues(
            job, [{"state": "done", "done_count": 5, "message_count": 5, "failed_count": 0}]
        )
        self.assertTrue(job.date_done)

    @users("wa_user")
    def test_expansion_access_lost(self):
        """A value the sender may no longer read when the cron runs: the job fails with the reason, nothing
        is rendered as superuser nor sent."""
        parents = self.env["res.partner"].sudo().create([{"name": f"Parent {i}"} for i in range(3)])
        children = (
            self.env["res.partner"]
            .sudo()
            .create(
                [
                    {"name": f"Child {i}", "parent_id": parent.id, "mobile": f"+32 470 00 00 {i:02d}"}
                    for i, parent in enumerate(parents)
                ]
            )
        )
        template = self._create_template(
            name="Parent", template_name="parent_name", body="Your company is {{1}}, welcome!",
            variables={"body-1": {"field_type": "field", "field_name": "parent_id.name", "demo_value": "X"}},
            status="approved", meta_uid="900021",
        )  # fmt: skip
        job = self._queue(children, template)
        parents[1].company_id = self.company_2  # the sender may no longer read this parent
        with self.mock_wa_send():
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(self.wa_sent, [])
        self.assertFalse(self._messages(job))
        self.assertFalse(
            self.env["mail.message"]
            .sudo()
            .search([("message_type", "=", "whatsapp_message"), ("res_id", "in", children.ids)])
        )
        self.assertEqual(job.state, "failed")
        self.assertIn("Stopped after 0 of 3 records", job.error)
        self.assertIn("doesn't have 'read' access to", job.error, "the reason: the access error")
        self.assertNotIn("Traceback", job.error)

    @users("wa_user")
    def test_expansion_failure_does_not_block_others(self):
        """A job whose template is no longer approved fails; the next job and the queue go on."""
        stale = self._queue(self.customers[:2])
        other = self._queue(self.customers[2:], self.template_buttons)
        self.template_partner.sudo().with_context(whatsapp_template_sync=True).status = "paused"
        with self.mock_wa_send():
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(stale.state, "failed")
        self.assertIn("may no longer send the template “Partner greeting”", stale.error)
        self.assertFalse(self._messages(stale))
        self.assertEqual(other.state, "done")
        self.assertEqual(set(self._messages(other).mapped("state")), {"sent"})
        self.assertEqual(len(self.wa_sent), 3)

    @users("wa_user")
    def test_retry_after_fix(self):
        """A failed job is queued again by Retry once its cause is fixed, and goes on where it stopped."""
        job = self._queue(self.customers)
        self.template_partner.sudo().with_context(whatsapp_template_sync=True).status = "paused"
        with self.mock_wa_send():
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(job.state, "failed")
        self.template_partner.sudo().with_context(whatsapp_template_sync=True).status = "approved"
        with self.assertRaisesRegex(UserError, "Only failed bulk sends"):
            (job | self._queue(self.customers[:2])).action_retry()  # a queued job among them
        job.with_user(job.create_uid).action_retry()
        self.assertRecordValues(job, [{"state": "queued", "error": False}])
        with self.mock_wa_send():
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertRecordValues(job, [{"state": "done", "message_count": 5, "error": False}])
        self.assertEqual(len(self._messages(job)), 5)
        self.assertEqual(len(self.wa_sent), 7, "the retried job's 5 messages and the other job's 2")

    @users("wa_user")
    def test_expansion_invalid_numbers_never_block(self):
        """Invalid and opted-out numbers give failed messages, counted on the job; the others are queued."""
        self.customers[0].sudo().mobile = "12"  # sudo: fixture, the sender may not edit contacts
        self.env["phone.blacklist"].sudo().add("+33612345601")
        job = self._queue(self.customers)
        self._expand()
        messages = self._messages(job)
        self.assertEqual(messages.mapped("res_id"), self.customers.ids)
        self.assertWAMessage(messages[0], "failed", "phone_invalid")
        self.assertWAMessage(messages[1], "failed", "blacklisted")
        self.assertEqual(set(messages[2:].mapped("state")), {"queued"})
        self.assertRecordValues(job, [{"state": "done", "message_count": 5, "failed_count": 2}])

    @users("wa_user")
    def test_expansion_header_file_and_number_field(self):
        """The composer's header file (kept on the job) and number field apply to every message."""
        attachment = self.env["ir.attachment"].create(
            {
                "name": "mine.png",
                "raw": PNG_1PX + b"\1",
                "mimetype": "image/png",
                "res_model": "whatsapp.composer",
            }
        )
        for i, customer in enumerate(self.customers.sudo()):
            customer.phone = f"+32 2 555 00 {i:02d}"
        job = self._queue(
            self.customers,
            self.template_image,
            attachment_ids=[(6, 0, attachment.ids)],
            number_field_name="phone",
        )
        self.assertEqual(
            (job.attachment_id.res_model, job.attachment_id.res_id), ("whatsapp.bulk.send", job.id)
        )
        self.assertEqual(job.attachment_id.raw, PNG_1PX + b"\1")
        self._expand()
        messages = self._messages(job)
        self.assertEqual(messages.mapped("number"), [f"+3225550{i:03d}" for i in range(5)])
        self.assertEqual(set(messages.mapped("header_cache_key")), {attachment.checksum})

    # ------------------------------------------------------------
    # CHUNKS, CRASHES, CANCEL
    # ------------------------------------------------------------

    @users("wa_user")
    def test_chunks_resume_after_crash(self):
        """Chunks of 2 on 5 records: progress per chunk; a worker dying in a chunk loses it entirely (messages
        and progress), the next run redoes it: every record gets exactly one message."""
        self.env["ir.config_parameter"].sudo().set_param(CHUNK_SIZE_PARAM, 2)
        job = self._queue(self.customers)
        self._expand(one_chunk=True)
        self.assertRecordValues(job, [{"state": "in_progress", "done_count": 2, "message_count": 2}])
        self.assertEqual(job.progress, 40.0)
        self.assertEqual(self._messages(job).mapped("res_id"), self.customers[:2].ids)
        # the second chunk dies after its messages were created, before its progress was written
        Job = self.registry["whatsapp.bulk.send"]
        with (
            patch.object(Job, "write", autospec=True, side_effect=WorkerKilled),
            self.assertRaises(WorkerKilled),
        ):
            self._expand(one_chunk=True)
        self.env.invalidate_all()
        self.assertRecordValues(job, [{"state": "in_progress", "done_count": 2, "message_count": 2}])
        self.assertEqual(len(self._messages(job)), 2)
        self._expand()
        messages = self._messages(job)
        self.assertEqual(messages.mapped("res_id"), self.customers.ids, "each record once, none lost")
        self.assertRecordValues(job, [{"state": "done", "done_count": 5, "message_count": 5}])

    @users("wa_user")
    def test_sends_start_before_the_expansion_ends(self):
        """A large selection is sent while it is being expanded: the queue runner expands a slice between two
        looks at its sends (a 10,000-recipient campaign does not wait for its last recipient's message to be
        created before its first call)."""
        self.env["ir.config_parameter"].sudo().set_param(CHUNK_SIZE_PARAM, 20)
        job = self._queue(self.bulk)
        Job = self.registry["whatsapp.bulk.send"]
        expand_chunk = Job._expand_chunk
        sent_before_chunk = []

        def _expand_chunk(job_self, chunk_size):
            sent_before_chunk.append(len(self.wa_sent))
            return expand_chunk(job_self, chunk_size)

        with self.mock_wa_send(), patch.object(Job, "_expand_chunk", _expand_chunk):
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(len(sent_before_chunk), 5, "5 chunks of 20")
        self.assertGreater(max(sent_before_chunk), 0, "chunks expanded after the first calls")
        self.assertEqual(
            sorted(p["to"] for p in self.wa_sent),
            sorted(n.lstrip("+") for n in self._messages(job).mapped("number")),
        )
        self.assertEqual(len(self.wa_sent), 100, "each recipient once")
        self.assertEqual(job.state, "done")

    def test_a_job_another_worker_expands_is_not_done(self):
        """A job whose row another worker holds (it expands a chunk) is skipped by ``FOR UPDATE SKIP LOCKED``:
        skipped is not done. A runner that took it for "every job expanded" stopped expanding for the rest of
        its run while the job was still being expanded (a campaign's messages came one slice at a time)."""
        with self.registry.cursor() as cr:  # committed: the workers' cursors below see it
            cr.execute(
                "INSERT INTO whatsapp_bulk_send (res_model, state) VALUES ('res.partner', 'queued') RETURNING id"
            )
            job_id = cr.fetchone()[0]
        self.addCleanup(self._delete_committed_job, job_id)
        with self.registry.cursor() as worker, self.registry.cursor() as runner:
            for cr in (
                worker,
                runner,
            ):  # Environment() would otherwise wait for the test runner's registry lock
                cr.transaction = Transaction(self.registry)
            worker.execute("SELECT id FROM whatsapp_bulk_send WHERE id = %s FOR UPDATE", [job_id])
            Job = api.Environment(runner, SUPERUSER_ID, {})["whatsapp.bulk.send"]
            self.assertIsNone(Job._lock_next(), "held by another worker: not done")
            self.assertIsNone(Job._expand_queued(deadline=0))
            worker.rollback()  # the other worker's chunk is over
            runner.rollback()
            self.assertEqual(Job._lock_next().id, job_id)

    def _delete_committed_job(self, job_id):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM whatsapp_bulk_send WHERE id = %s", [job_id])

    @users("wa_user")
    def test_the_expansion_keeps_ahead_of_the_sends(self):
        """While less than ``AHEAD_SECONDS`` of sends are queued, a runner expands slice after slice without
        waiting for its calls between two (a runner that waited fell behind its own sends: its lanes ran dry
        after each slice)."""
        self.env["ir.config_parameter"].sudo().set_param(CHUNK_SIZE_PARAM, 20)
        self._queue(self.bulk)
        waits = []
        take_results = SenderPool.take_results

        def _take_results(pool, timeout=None):
            waits.append(timeout)
            return take_results(pool, timeout=timeout)

        with (
            self.mock_wa_send(),
            patch.object(whatsapp_message_module, "EXPAND_SLICE", 20),
            patch.object(SenderPool, "take_results", _take_results),
        ):
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(len(self.wa_sent), 100, "each recipient once")
        # 5 slices of 20, 100 queued at most: under the 5 s at 80 msg/s of the test account
        self.assertEqual(waits[:4], [0, 0, 0, 0], "no wait while slices are left to expand")

    @users("wa_user")
    def test_a_run_sends_before_its_other_work(self):
        """A run that takes over from another (messages already queued) submits its first calls before it
        expands bulk sends or applies statuses: the handover between two runs is not a pause in the sends."""
        self._queue(self.bulk[:50])
        self._expand()
        self._queue(self.bulk[50:])
        order = []
        submit = SenderPool.submit
        Job = self.registry["whatsapp.bulk.send"]
        expand = Job._expand_queued
        Event = self.registry["whatsapp.webhook.event"]
        apply = Event._apply_queued_statuses

        def _submit(pool, key, jobs):
            order.append("submit")
            return submit(pool, key, jobs)

        def _expand(jobs, *args, **kwargs):
            order.append("expand")
            return expand(jobs, *args, **kwargs)

        def _apply(events, *args, **kwargs):
            order.append("apply")
            return apply(events, *args, **kwargs)

        with (
            self.mock_wa_send(),
            patch.object(SenderPool, "submit", _submit),
            patch.object(Job, "_expand_queued", _expand),
            patch.object(Event, "_apply_queued_statuses", _apply),
        ):
            self.env(user=SUPERUSER_ID, su=True)["whatsapp.message"]._process_queue()
        self.assertEqual(order[0], "submit", order)
        self.assertIn("expand", order)
        self.assertEqual(len(self.wa_sent), 100, "each recipient once")

    @users("wa_user")
    def test_cancel(self):
        # a queued job: nothing is ever created
        job = self._queue(self.customers)
        job.action_cancel()
        self._expand()
        self.assertEqual(job.state, "cancelled")
        self.assertFalse(self._messages(job))
        with self.assertRaises(UserError):
            job.action_cancel()
        # a job in progress: no more chunk, its queued messages are cancelled
        self.env["ir.config_parameter"].sudo().set_param(CHUNK_SIZE_PARAM, 2)
        job = self._queue(self.customers)
        self._expand(one_chunk=True)
        job.action_cancel()
        self._expand()
        self.assertEqual(job.state, "cancelled")
        self.assertEqual(self._messages(job).mapped("state"), ["cancelled", "cancelled"])

    # ------------------------------------------------------------
    # ACCESS, VIEWS
    # ------------------------------------------------------------

    @users("wa_user")
    def test_access_rights(self):
        """Users see (and cancel) their own jobs, administrators every job of their companies; nobody
        writes a job directly."""
        job = self._queue(self.customers)
        Jobs = self.env["whatsapp.bulk.send"]
        self.assertEqual(Jobs.search([("id", "=", job.id)]), job)
        self.assertFalse(Jobs.with_user(self.user_wa_2).search([("id", "=", job.id)]))
        with self.assertRaises(AccessError):
            job.with_user(self.user_wa_2).read(["state"])
        with self.assertRaises(AccessError):
            job.with_user(self.user_wa_2).action_cancel()
        self.assertEqual(Jobs.with_user(self.user_wa_admin).search([("id", "=", job.id)]), job)
        self.assertFalse(Jobs.with_user(self.user_other_company).search([("id", "=", job.id)]))
        self.assertFalse(Jobs.with_user(self.user_employee).has_access("read"))
        with self.assertRaises(AccessError):
            job.write({"state": "queued", "res_ids": self.bulk.ids})
        with self.assertRaises(AccessError):
            Jobs.create({"res_model": "res.partner", "res_ids": self.bulk.ids})
        self.assertEqual(job.state, "queued")

    @users("wa_user")
    def test_views(self):
        """The list, form and search views load for a user; the stat button lists the job's messages."""
        views = self.env["whatsapp.bulk.send"].get_views(
            [(False, "list"), (False, "form"), (False, "search")]
        )
        self.assertEqual(set(views["views"]), {"list", "form", "search"})
        job = self._queue(self.customers)
        self._expand()
        action = job.action_view_messages()
        self.assertEqual(self.env[action["res_model"]].search(action["domain"]), self._messages(job))

    @users("wa_user")
    def test_outcome(self):
        """A job done with records not sent says how many were sent, failed and skipped, lists the messages
        not sent with their record and reason, and opens each record."""
        self.customers[0].sudo().mobile = False  # sudo: fixture, the sender may not edit contacts
        self.env["phone.blacklist"].sudo().add("+33612345601")
        job = self._queue(self.customers)
        self.customers[4].sudo().unlink()  # deleted before the expansion: skipped
        self._expand()
        messages = self._messages(job)
        with self.mock_wa_send(errors={"33612345603": self.meta_error(131026, message="Undeliverable")}):
            messages.filtered(lambda m: m.state == "queued").send()
        self.env.invalidate_all()
        self.assertRecordValues(
            job,
            [
                {
                    "state": "done",
                    "sent_count": 1,
                    "not_sent_count": 3,
                    "skipped_count": 1,
                    "pending_count": 0,
                    "has_failures": True,
                    "outcome_summary": "1 sent, 3 not sent, 1 skipped, 0 pending",
                }
            ],
        )
        not_sent = job.not_sent_message_ids
        self.assertEqual(not_sent.mapped("record_name"), ["Customer 3", "Customer 1", "Customer 0"])
        self.assertEqual(set(not_sent.mapped("res_model_description")), {"Contact"})
        self.assertEqual(not_sent.mapped("failure_type"), ["recipient", "blacklisted", "phone_invalid"])
        action = job.action_view_not_sent()
        self.assertEqual(self.env[action["res_model"]].search(action["domain"]), not_sent)
        action = not_sent[-1].action_open_record()
        self.assertEqual((action["res_model"], action["res_id"]), ("res.partner", self.customers[0].id))
        # a job whose every message went out is a plain success
        job_ok = self._queue(self.customers[2:4])
        self._expand()
        with self.mock_wa_send():
            self._messages(job_ok).send()
        self.env.invalidate_all()
        self.assertRecordValues(job_ok, [{"sent_count": 2, "not_sent_count": 0, "has_failures": False}])


@tagged("whatsapp", "post_install", "-at_install")
class TestWhatsAppBulkSendTour(WhatsAppMessageMixin, WhatsAppHttpCase):
    """In real Chromium: what a user sees of a bulk send where 2 of 3 records were not sent."""

    def test_outcome_tour(self):
        template = self._create_wa_template()
        partners = self.env["res.partner"].create(
            [
                {"name": "Tour Sent", "mobile": "+32 470 11 11 11"},
                {"name": "Tour No Number"},
                {"name": "Tour Blacklisted", "mobile": "+32 470 22 22 22"},
            ]
        )
        self.env["phone.blacklist"].sudo().add("+32470222222")
        Jobs = self.env["whatsapp.bulk.send"].with_user(self.user_wa)
        job = Jobs._queue(template.with_user(self.user_wa), partners.with_user(self.user_wa))
        self.env["whatsapp.bulk.send"].sudo()._expand_queued()
        with self.mock_wa_send():
            job.sudo().message_ids.filtered(lambda m: m.state == "queued").send()  # as the queue cron
        self.assertEqual(job.state, "done")
        self.start_tour("/odoo/action-whatsapp.whatsapp_bulk_send_action", "whatsapp_bulk_send_outcome_tour",
                        login=self.user_wa.login)  # fmt: skip
