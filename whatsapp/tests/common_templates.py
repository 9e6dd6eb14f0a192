"""Template fixtures, reusable by every test that sends templates (composer, thread API, bridges).

``WhatsAppTemplateCase`` adds to ``WhatsAppCase``: a partner with a mobile number and three *approved*
templates on it, in the fixture account:

* ``template_partner``: body ``Hello {{1}}, your reference is {{2}}. See you soon!`` ({{1}} = partner name,
  {{2}} = free text typed in the composer);
* ``template_image``: image header (a PNG attachment) and ``Hi {{1}}, discover our new collection!``;
* ``template_buttons``: text header ``Order {{1}}``, a footer and the four kinds of buttons (quick reply,
  dynamic URL, call number, tracked URL).
"""

import base64

from .common import WhatsAppCase

# a 1x1 transparent PNG
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class WhatsAppTemplateMixin:
    @classmethod
    def _create_template(cls, variables=None, env=None, **values):
        """Create a template (as superuser unless ``env``) and configure its variable lines.

        :param variables: ``{key: {field: value}}`` with keys like ``"body-1"``, ``"header-1"``, ``"button-1"``
        """
        env = env or cls.env
        vals = {
            "name": "Test Template",
            "account_id": cls.account.id,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "phone_field": "mobile",
            "category": "utility",
            "lang_code": "en_US",
            "body": "Hello {{1}}, how are you today?",
            **values,
        }
        template = env["whatsapp.template"].create(vals)
        for key, variable_values in (variables or {}).items():
            variable = template.variable_ids.filtered(lambda v, key=key: v.key == key)
            assert variable, f"no variable {key} in {template.variable_ids.mapped('key')}"
            variable.write(variable_values)
        return template

    @classmethod
    def _attachment(cls, raw=PNG_1PX, name="header.png", mimetype=None):
        vals = {"name": name, "raw": raw}
        if mimetype:
            vals["mimetype"] = mimetype
        return cls.env["ir.attachment"].create(vals)


class WhatsAppTemplateCase(WhatsAppTemplateMixin, WhatsAppCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create(
            {"name": "Ana Customer", "mobile": "+32 470 12 34 56", "email": "ana@example.com"}
        )
        cls.template_partner = cls._create_template(
            name="Partner greeting",
            template_name="partner_greeting",
            body="Hello {{1}}, your reference is {{2}}. See you soon!",
            variables={
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Azure Interior"},
                "body-2": {"field_type": "free_text", "demo_value": "REF-001"},
            },
            status="approved",
            meta_uid="900001",
        )
        cls.image = cls._attachment()
        cls.template_image = cls._create_template(
            name="New collection",
            template_name="new_collection",
            category="marketing",
            header_type="image",
            header_attachment_ids=[(6, 0, cls.image.ids)],
            body="Hi {{1}}, discover our new collection!",
            variables={
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Azure Interior"}
            },
            status="approved",
            meta_uid="900002",
        )
        cls.template_buttons = cls._create_template(
            name="Order ready",
            template_name="order_ready",
            header_type="text",
            header_text="Order {{1}}",
            body="Dear {{1}}, your order is *ready*. Pick it up today!",
            footer="Thank you for your trust",
            button_ids=[
                (0, 0, {"sequence": 1, "button_type": "quick_reply", "name": "Thanks"}),
                (0, 0, {"sequence": 2, "button_type": "url", "name": "Track", "url_type": "dynamic",
                        "website_url": "https://shop.example.com/track/"}),
                (0, 0, {"sequence": 3, "button_type": "phone_number", "name": "Call us",
                        "call_number": "+32 2 555 12 34"}),
                (0, 0, {"sequence": 4, "button_type": "url", "name": "Our shop", "url_type": "tracked",
                        "website_url": "https://shop.example.com"}),
            ],
            variables={
                "header-1": {"field_type": "field", "field_name": "ref", "demo_value": "S00042"},
                "body-1": {"field_type": "field", "field_name": "name", "demo_value": "Azure Interior"},
                "button-1": {"field_type": "field", "field_name": "ref", "demo_value": "S00042"},
            },
            status="approved",
            meta_uid="900003",
        )  # fmt: skip
        cls.partner.ref = "S00042"
