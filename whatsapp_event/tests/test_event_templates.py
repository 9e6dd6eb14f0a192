from odoo.tests import tagged

from .common import WhatsAppEventCase


@tagged("post_install", "-at_install", "whatsapp", "whatsapp_event")
class TestEventTemplates(WhatsAppEventCase):
    def test_ready_templates_valid(self):
        """Both ready templates: draft ones pass the template's own checks and their create payload is valid
        against Meta's spec."""
        for xmlid, header in (
            ("whatsapp_event.whatsapp_template_event_ticket", "DOCUMENT"),
            ("whatsapp_event.whatsapp_template_event_reminder", "LOCATION"),
        ):
            with self.subTest(template=xmlid):
                payload = self.assertReadyTemplate(self.env.ref(xmlid), header, header_handle="4::aGVhZGVy")
                self.assertEqual(
                    payload["components"][0],
                    {
                        "type": "HEADER",
                        "format": header,
                        **({"example": {"header_handle": ["4::aGVhZGVy"]}} if header == "DOCUMENT" else {}),
                    },
                )

    def test_ready_templates_content(self):
        ticket = self.env.ref("whatsapp_event.whatsapp_template_event_ticket")
        self.assertEqual(
            ticket.report_id, self.env.ref("event.action_report_event_registration_full_page_ticket")
        )
        self.assertEqual(ticket.model, "event.registration")
        reminder = self.env.ref("whatsapp_event.whatsapp_template_event_reminder")
        location = reminder.variable_ids.filtered(lambda v: v.line_type == "location").sorted("position")
        self.assertEqual(
            location.mapped("field_name"),
            [
                "event_id.address_id.name",
                "event_id.address_inline",
                "event_id.address_id.partner_latitude",
                "event_id.address_id.partner_longitude",
            ],
        )
        for template in ticket | reminder:
            with self.subTest(template=template.name):
                body = template.variable_ids.filtered(lambda v: v.line_type == "body")
                self.assertTrue(all(v.field_type == "field" for v in body))
                self.assertIn("event_id.date_begin_located", body.mapped("field_name"))
                self.assertIn("whatsapp_event_url", body.mapped("field_name"))
                # the paths are safe for WhatsApp administrators who are not Settings administrators
                safe = self.env["event.registration"]._whatsapp_safe_fields()
                self.assertFalse(set(template.variable_ids.mapped("field_name")) - set(safe))
