from unittest.mock import patch

from odoo.addons.base.models.ir_actions_report import IrActionsReport
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.whatsapp.tests.common import WhatsAppCase
from odoo.addons.whatsapp.tools.template_tools import SAMPLE_PDF
from odoo.exceptions import UserError
from odoo.tests import tagged, users


class WhatsAppSaleCommon(WhatsAppCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_salesman = mail_new_test_user(
            cls.env,
            login="sale_wa",
            groups="base.group_user,sales_team.group_sale_salesman,whatsapp.group_whatsapp_user",
            name="Sam Salesman",
        )
        cls.template = cls.env.ref("whatsapp_sale.whatsapp_template_sale_order")
        # sudo: fixture; the status comes from Meta (sync context skips the edit rules)
        cls.template.sudo().with_context(whatsapp_template_sync=True).write(
            {"account_id": cls.account.id, "status": "approved", "meta_uid": "meta-sale-1"}
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Ana Lopez", "mobile": "+32 470 12 34 56", "email": "ana@example.com"}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Consulting", "list_price": 1250.0, "type": "service"}
        )

    def _quotation(self, partner=None):
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.customer).id,
                "user_id": self.user_salesman.id,
                "order_line": [
                    (0, 0, {"product_id": self.product.id, "product_uom_qty": 1, "tax_id": False})
                ],
            }
        )

    def _messages(self, orders):
        # sudo: assertions on the technical message records
        return (
            self.env["whatsapp.message"]
            .sudo()
            .search([("model", "=", "sale.order"), ("res_id", "in", orders.ids)], order="id")
        )


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_sale")
class TestWhatsAppSale(WhatsAppSaleCommon):
    def test_ready_template_valid(self):
        """The ready template passes the template's own checks; its create payload is valid for Meta."""
        payload = self.assertReadyTemplate(self.template, "DOCUMENT", header_handle="4::cXVvdGU=")
        self.assertEqual(payload["components"][-1], {"type": "FOOTER", "text": "Reply STOP to unsubscribe"})
        self.assertEqual(self.template.report_id, self.env.ref("sale.action_report_saleorder"))

    @users("sale_wa")
    def test_action_send_whatsapp(self):
        orders = self._quotation() | self._quotation()
        for records in (orders[0], orders):
            with self.subTest(count=len(records)):
                action = records.action_send_whatsapp()
                self.assertEqual(action["type"], "ir.actions.act_window")
                self.assertEqual(action["res_model"], "whatsapp.composer")
                self.assertEqual(action["target"], "new")
                self.assertEqual(action["context"]["default_res_model"], "sale.order")
                self.assertEqual(action["context"]["default_res_ids"], records.ids)
                self.assertEqual(action["context"]["default_template_id"], self.template.id)

    @users("sale_wa")
    def test_action_send_whatsapp_no_template(self):
        self.template.sudo().with_context(whatsapp_template_sync=True).status = "paused"
        with self.assertRaisesRegex(UserError, "Sales: Quotation"):
            self._quotation().action_send_whatsapp()

    def test_list_action(self):
        """From the list: the WhatsApp action (the ready template allows multi) sends to a selection through
        the composer; every quotation is marked sent."""
        action = self.env["ir.actions.server"].search(
            [
                ("binding_model_id.model", "=", "sale.order"),
                ("binding_view_types", "=", "list"),
                ("code", "ilike", "whatsapp"),
            ]
        )
        self.assertEqual(len(action), 1)
        orders = (self._quotation() | self._quotation()).with_user(self.user_salesman)
        result = (
            action.with_user(self.user_salesman)
            .with_context(active_model="sale.order", active_ids=orders.ids)
            .run()
        )
        self.assertEqual(result["res_model"], "whatsapp.composer")
        composer = (
            self.env["whatsapp.composer"]
            .with_user(self.user_salesman)
            .with_context(**result["context"])
            .create({})
        )
        self.assertEqual(composer.template_id, self.template)
        composer.action_send_whatsapp()
        self.assertFalse(self._messages(orders), "a selection is queued as a bulk send")
        self.env["whatsapp.bulk.send"]._expand_queued()  # the queue cron's first step
        self.assertEqual(orders.mapped("state"), ["sent", "sent"])
        messages = self._messages(orders)
        self.assertEqual(len(messages), 2)
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        # one PDF per order
        self.assertEqual(len(messages.header_attachment_id), 2)

    @users("sale_wa")
    def test_send_quotation(self):
        """From a quotation: the PDF header, the state moves to Sent, the chatter logs the message."""
        order = self._quotation()
        self.assertEqual(order.state, "draft")
        messages = order._whatsapp_send_template(self.template)
        self.assertEqual(messages, self._messages(order))
        self.assertEqual(messages.state, "queued")
        self.assertEqual(messages.number, "+32470123456")
        self.assertEqual(order.state, "sent")
        # header: the quotation document, rendered for this order
        self.assertEqual(messages.header_type, "document")
        attachment = messages.sudo().header_attachment_id
        self.assertEqual((attachment.res_model, attachment.res_id), ("sale.order", order.id))
        self.assertIn(order.name.replace("/", "_"), attachment.name)
        # body: customer, reference, company, amount with currency, portal link (with access token)
        body = [p["text"] for p in messages.payload["template"]["components"][0]["parameters"]]
        self.assertEqual(body[:3], ["Ana Lopez", order.name, order.company_id.name])
        self.assertIn("1,250.00", body[3])
        self.assertIn(order.currency_id.symbol, body[3])
        self.assertIn(f"res_id={order.id}", body[4])
        self.assertIn("access_token=", body[4])
        # chatter
        log = order.message_ids.filtered(lambda m: m.message_type == "whatsapp_message")
        self.assertEqual(len(log), 1)
        self.assertIn(order.name, log.body)
        self.assertEqual(log.attachment_ids, attachment)
        # the Messages list: the customer (the template's number holder) and the quotation
        self.assertEqual(messages.partner_id, self.customer)
        self.assertEqual((messages.record_model, messages.record_res_id), ("sale.order", order.id))

    @users("sale_wa")
    def test_send_states(self):
        """Only draft quotations whose message could be sent move to Sent."""
        nobody = self.env["res.partner"].sudo().create({"name": "No number"})
        cases = [
            ("draft", self.customer, "sent"),
            ("draft", nobody, "draft"),
            ("sale", self.customer, "sale"),
        ]
        for state, partner, expected in cases:
            with self.subTest(state=state, partner=partner.name):
                order = self._quotation(partner)
                if state == "sale":
                    order.action_confirm()
                order._whatsapp_send_template(self.template)
                self.assertEqual(order.state, expected)

    def _open_composer(self, order):
        """The composer as the order's Send by WhatsApp button opens it, for the salesman."""
        action = order.action_send_whatsapp()
        return (
            self.env["whatsapp.composer"]
            .with_user(self.user_salesman)
            .with_context(**action["context"])
            .create({})
        )

    def test_composer_end_to_end(self):
        """Through the composer opened by the button (once the composer exists in the core)."""
        order = self._quotation().with_user(self.user_salesman)
        composer = self._open_composer(order)
        composer.action_send_whatsapp()
        self.assertEqual(order.state, "sent")
        self.assertEqual(len(self._messages(order)), 1)

    def test_composer_customer_with_phone_only(self):
        """The demo's customers have a Phone but no Mobile: the template reads Customer › Mobile, the
        composer falls back on the customer's phone and names the person, not the quotation."""
        customer = self.env["res.partner"].create({"name": "Phone Only", "phone": "+32 2 555 00 00"})
        order = self._quotation(customer).with_user(self.user_salesman)
        composer = self._open_composer(order)
        self.assertEqual(composer.recipient_summary, "Phone Only: +3225550000")
        self.assertEqual(composer.recipient_partner_id, customer)
        self.assertEqual(composer.recipient_number, "+32 2 555 00 00")
        self.assertTrue(composer.can_send)
        composer.action_send_whatsapp()
        self.assertEqual(self._messages(order).number, "+3225550000")


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_sale")
class TestWhatsAppSaleSandbox(WhatsAppSaleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_sandbox()

    def test_quotation_to_sandbox(self):
        template = self.template.sudo()
        template.with_context(whatsapp_template_sync=True).write({"status": "draft", "meta_uid": False})
        template.button_submit_template()
        self.sandbox.template_decision(template.meta_uid, "APPROVED")
        template.with_context(whatsapp_template_sync=True).write({"status": "approved"})
        order = self._quotation()
        # wkhtmltopdf is not used by tests (reports render as HTML): the quotation "PDF" is a real PDF here
        with patch.object(
            IrActionsReport, "_render_qweb_pdf", autospec=True, return_value=(SAMPLE_PDF, "pdf")
        ):
            message = order._whatsapp_send_template(template, queue=False)
        self.assertEqual(message.state, "sent", message.failure_reason)
        self.assertEqual(order.state, "sent")
        sent = self.sandbox.sent_messages[-1]
        self.assertEqual(sent["to"], "32470123456")
        self.assertEqual(sent["payload"]["template"]["name"], "sale_quotation")
        header = sent["payload"]["template"]["components"][0]["parameters"][0]
        self.assertEqual(header["type"], "document")
        self.assertTrue(header["document"]["filename"].endswith(".pdf"))
