from html.parser import HTMLParser

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from .common import import_sandbox
from .common_templates import WhatsAppTemplateCase, WhatsAppTemplateMixin

SEND_PATH = "/{Version}/{Phone-Number-ID}/messages"


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateRender(WhatsAppTemplateCase):
    """What the sender gets from a template for a record: components, media, text, preview."""

    def _send_payload(self, template, components):
        return {
            "messaging_product": "whatsapp",
            "to": "32470123456",
            "type": "template",
            "template": {"name": template.template_name, "language": {"code": template.lang_code},
                         "components": components},
        }  # fmt: skip

    def test_send_components_body_and_free_text(self):
        template = self.template_partner.with_user(self.user_wa)
        components = template._get_send_components(self.partner, free_text={"body-2": "REF-42"})
        self.assertEqual(
            components,
            [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana Customer"},
                        {"type": "text", "text": "REF-42"},
                    ],
                }
            ],
        )
        variable = self.template_partner.variable_ids.filtered(lambda v: v.key == "body-2")
        by_id = template._get_send_components(self.partner, free_text={variable.id: "BY-ID"})
        self.assertEqual(by_id[0]["parameters"][1]["text"], "BY-ID")
        with self.assertRaises(UserError) as catcher:
            template._get_send_components(self.partner)
        self.assertIn("type a value for the variable body - {{2}}", str(catcher.exception))
        self.assertEqual(
            template._render_body(self.partner, {"body-2": "REF-42"}),
            "Hello Ana Customer, your reference is REF-42. See you soon!",
        )

    def test_send_components_header_and_buttons(self):
        template = self.template_buttons.with_user(self.user_wa)
        components = template._get_send_components(self.partner)
        tracker = self.template_buttons.button_ids[3].link_tracker_id
        self.assertTrue(tracker.code)
        self.assertEqual(
            components,
            [
                {"type": "header", "parameters": [{"type": "text", "text": "S00042"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana Customer"}]},
                {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "S00042"}]},
                {"type": "button", "sub_type": "url", "index": "3",
                 "parameters": [{"type": "text", "text": tracker.code}]},
            ],
        )  # fmt: skip
        self.assertEqual(tracker.url, "https://shop.example.com")
        self.assertEqual(
            template._get_send_components(self.partner)[3], components[3], "same tracker per template"
        )
        self.assertEqual(
            template._render_body(self.partner),
            "Order S00042\n\nDear Ana Customer, your order is *ready*. Pick it up today!\n\n"
            "Thank you for your trust\n\n[Thanks] [Track] [Call us] [Our shop]",
        )
        if import_sandbox():
            from meta_sandbox.spec import validate_request  # noqa: PLC0415 - located at run time

            self.assertEqual(
                validate_request("POST", SEND_PATH, self._send_payload(template, components)), []
            )

    def test_send_components_location_and_user_fields(self):
        self.user_wa.mobile = "+32 470 99 99 99"
        template = self._create_template(
            name="Visit", template_name="visit_us", header_type="location",
            body="Hello {{1}}, {{2}} is waiting for you. Call {{3}} if needed.",
            variables={
                "location-name": {"demo_value": "Shop"}, "location-address": {"demo_value": "Main street 1"},
                "location-latitude": {"demo_value": "50.85"}, "location-longitude": {"demo_value": "4.35"},
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Ana"},
                "body-2": {"field_type": "user_name", "demo_value": "Walter"},
                "body-3": {"field_type": "user_mobile", "demo_value": "+32"},
            },
            status="approved",
        )  # fmt: skip
        free = {"location-name": "Shop", "location-address": "Main street 1", "location-latitude": "50.85",
                "location-longitude": "4.35"}  # fmt: skip
        components = template.with_user(self.user_wa)._get_send_components(self.partner, free)
        self.assertEqual(
            components[0],
            {"type": "header", "parameters": [{"type": "location", "location": {
                "latitude": 50.85, "longitude": 4.35, "name": "Shop", "address": "Main street 1"}}]},
        )  # fmt: skip
        self.assertEqual(
            [p["text"] for p in components[1]["parameters"]],
            ["Ana Customer", "Walter User", "+32 470 99 99 99"],
        )
        with self.assertRaises(UserError):
            template._get_send_components(self.partner, dict(free, **{"location-latitude": "north"}))
        if import_sandbox():
            from meta_sandbox.spec import validate_request  # noqa: PLC0415 - located at run time

            self.assertEqual(
                validate_request("POST", SEND_PATH, self._send_payload(template, components)), []
            )

    def test_values_read_with_sender_rights(self):
        """Values are read as the sender: a record the sender may not read cannot leak through a template."""
        secret = self.env["res.partner"].create({"name": "Secret Co", "company_id": self.company_2.id})
        template = self.template_partner.with_user(self.user_wa)
        with self.assertRaises(AccessError):
            template._get_send_components(secret.with_user(self.user_wa), {"body-2": "x"})
        self.assertEqual(
            self.template_partner._get_send_components(secret, {"body-2": "x"})[0]["parameters"][0]["text"],
            "Secret Co",
            "the same call works for a user allowed to read it",
        )

    def test_related_values_read_with_sender_rights(self):
        """Every hop of a field path is read with the sender's rights, even when the value is already cached."""
        secret = self.env["res.partner"].create({"name": "Secret Parent", "company_id": self.company_2.id})
        child = self.env["res.partner"].create({"name": "Visible Child", "parent_id": secret.id})
        self.template_partner.variable_ids.filtered(lambda v: v.key == "body-1").field_name = "parent_id.name"
        self.assertEqual(secret.name, "Secret Parent")  # in the cache, read as administrator
        template = self.template_partner.with_user(self.user_wa)
        with self.assertRaises(AccessError):
            template._get_send_components(child.with_user(self.user_wa), {"body-2": "x"})

    def test_recipient_number(self):
        self.assertEqual(self.template_partner._get_recipient_number(self.partner), "+32 470 12 34 56")
        contact = self.env["res.partner"].create({"name": "Child", "parent_id": self.partner.id})
        self.template_partner.phone_field = "parent_id.mobile"
        self.assertEqual(self.template_partner._get_recipient_number(contact), "+32 470 12 34 56")
        self.assertEqual(
            self.template_partner._get_recipient_number(self.partner),
            "+32 470 12 34 56",
            "no parent: the contact's own mobile",
        )

    def test_recipient_number_usual_fields(self):
        """The template's field empty: the mobile, then the phone of the partner it is read on, then the
        record's own number fields (as ``_phone_get_number_fields``)."""
        company = self.env["res.partner"].create({"name": "Company", "phone": "+32 2 555 00 00"})
        contact = self.env["res.partner"].create(
            {"name": "Contact", "parent_id": company.id, "phone": "+32 2 555 00 11"}
        )
        self.template_partner.phone_field = "parent_id.mobile"
        self.assertEqual(
            self.template_partner._get_recipient_number(contact), "+32 2 555 00 00", "the parent's phone"
        )
        company.phone = False
        self.assertEqual(
            self.template_partner._get_recipient_number(contact), "+32 2 555 00 11", "the contact's phone"
        )
        contact.mobile = "+32 470 00 00 11"
        self.assertEqual(self.template_partner._get_recipient_number(contact), "+32 470 00 00 11")
        self.template_partner.phone_field = "mobile"
        contact.mobile = False
        self.assertEqual(self.template_partner._get_recipient_number(contact), "+32 2 555 00 11")
        contact.phone = False
        self.assertFalse(self.template_partner._get_recipient_number(contact))

    def test_header_media(self):
        self.assertIsNone(self.template_partner._get_header_media(self.partner))
        media = self.template_image.with_user(self.user_wa)._get_header_media(self.partner)
        self.assertEqual(
            media,
            {
                "data": self.image.raw,
                "mimetype": "image/png",
                "filename": "header.png",
                "cache_key": self.image.checksum,
            },
        )
        self.env["ir.ui.view"].create(
            {"name": "whatsapp.test_partner_card", "type": "qweb", "key": "whatsapp.test_partner_card",
             "arch": '<t t-name="whatsapp.test_partner_card"><t t-foreach="docs" t-as="o"><p t-out="o.name"/></t></t>'}
        )  # fmt: skip
        report = self.env["ir.actions.report"].create(
            {"name": "Partner card", "model": "res.partner", "report_type": "qweb-pdf",
             "report_name": "whatsapp.test_partner_card", "print_report_name": "'Card - %s' % object.name"}
        )  # fmt: skip
        template = self._create_template(
            name="Doc", template_name="doc", header_type="document", report_id=report.id, body="Hello, here it is.",
            status="approved",
        )  # fmt: skip
        media = template._get_header_media(self.partner)
        self.assertIn(b"Ana Customer", media["data"])
        self.assertTrue(media["filename"].startswith("Card - Ana Customer."))
        self.assertIn(f"res.partner-{self.partner.id}", media["cache_key"])
        other = template._get_header_media(self.env["res.partner"].create({"name": "Bob"}))
        self.assertNotEqual(other["cache_key"], media["cache_key"], "rendered per record")

    def test_preview(self):
        html = str(self.template_buttons.preview_html)
        self.assertIn('<div class="o_whatsapp_preview_header_text">Order S00042</div>', html)
        self.assertIn("Dear Azure Interior, your order is <b>ready</b>. Pick it up today!", html)
        self.assertIn("Thank you for your trust", html)
        for label in ("Thanks", "Track", "Call us", "Our shop"):
            self.assertIn(label, html)
        template = self._create_template(
            name="Markup", template_name="markup", body="Hi {{1}}: *b* _i_ ~s~ ```m``` <script>x</script>, ok.",
            variables={"body-1": {"demo_value": "<Ana>"}},
        )  # fmt: skip
        html = str(template.preview_html)
        self.assertIn("Hi &lt;Ana&gt;: <b>b</b> <i>i</i> <s>s</s> <code>m</code> &lt;script&gt;", html)
        self.assertNotIn("<script>", html)
        image = str(self.template_image.preview_html)
        self.assertIn(
            f'src="/web/image/ir.attachment/{self.image.id}/datas"', image, "the header image itself"
        )

    def test_preview_well_formed(self):
        """Every header type and formatting gives HTML whose tags all close in order (an unclosed tag made the
        whole body a huge serif text spilling out of the bubble)."""
        body = "Hi {{1}}: *b* _i_ ~s~ ```m *x*``` *a _b* c_ <i>"
        document = self._attachment(b"%PDF-1.4", name="Price list.pdf", mimetype="application/pdf")
        report = self.env["ir.actions.report"].search(
            [("model", "=", "res.partner"), ("report_type", "=", "qweb-pdf")], limit=1
        )
        cases = [
            ("none", {}),
            ("text", {"header_text": "Hi *{{1}}*"}),
            ("image", {}),
            ("image", {"header_attachment_ids": [(6, 0, self.image.ids)]}),
            ("video", {}),
            ("document", {"header_attachment_ids": [(6, 0, document.ids)]}),
            ("document", {"report_id": report.id} if report else {}),
            ("location", {}),
        ]
        for index, (header_type, values) in enumerate(cases):
            with self.subTest(header_type=header_type, values=values):
                template = self._create_template(
                    template_name=f"wf_{index}_{header_type}", header_type=header_type, body=body, footer="Bye <b>",
                    button_ids=[(0, 0, {"button_type": "quick_reply", "name": "OK"})], **values,
                )  # fmt: skip
                html = str(template.preview_html)
                parser = _TagChecker()
                parser.feed(html)
                self.assertEqual(parser.errors, [], html)
                self.assertEqual(parser.stack, [], html)
                self.assertIn('<div class="o_whatsapp_preview_button">', html)
        document_template = self.env["whatsapp.template"].search(
            [("template_name", "=", "wf_5_document")], limit=1
        )
        self.assertIn("Price list.pdf", str(document_template.preview_html), "the file that will be sent")


class _TagChecker(HTMLParser):
    """Records a tag closed out of order, a non-void tag written self-closed, and what is left open."""

    VOID = {"br", "img", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag not in self.VOID:
            self.errors.append(f"<{tag}/>")

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")


@tagged("post_install", "-at_install", "whatsapp")
class TestWhatsAppTemplateTracking(WhatsAppTemplateMixin, HttpCase):
    """A tracked URL button gets a short link whose clicks are counted."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.env["whatsapp.account"].create(
            {"name": "Tracking", "phone_uid": "1000009", "account_uid": "2000009", "app_uid": "3000009",
             "token": "t", "app_secret": "s", "api_base_url": "http://127.0.0.1:9"}
        )  # fmt: skip

    def test_tracked_url_click_is_counted(self):
        template = self._create_template(
            name="Shop link", template_name="shop_link", body="Hello {{1}}, our shop is open!", status="approved",
            button_ids=[(0, 0, {"button_type": "url", "name": "Shop", "url_type": "tracked",
                                "website_url": "https://shop.example.com/sale"})],
            variables={"body-1": {"field_type": "field", "field_name": "name", "demo_value": "Ana"}},
        )  # fmt: skip
        partner = self.env["res.partner"].create({"name": "Ana", "mobile": "+32470123456"})
        code = template._get_send_components(partner)[-1]["parameters"][0]["text"]
        tracker = template.button_ids.link_tracker_id
        self.assertEqual(tracker.count, 0)
        response = self.url_open(f"/r/{code}", allow_redirects=False)
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response.headers["Location"].startswith("https://shop.example.com/sale"))
        tracker.invalidate_recordset(["count"])
        self.assertEqual(tracker.count, 1)
        self.assertEqual(template.button_ids.click_count, 1)
