from odoo import fields, models
from werkzeug.urls import url_join


class EventRegistration(models.Model):
    _inherit = "event.registration"

    whatsapp_event_url = fields.Char(
        "Event Page",
        compute="_compute_whatsapp_event_url",
        help="Public page of the event (Website Events), else the company's website: the event page link of "
        "WhatsApp templates.",
    )

    def _compute_whatsapp_event_url(self):
        for registration in self:
            event = registration.event_id
            if "website_url" in event._fields and event.website_url:
                registration.whatsapp_event_url = url_join(event.get_base_url(), event.website_url)
            else:
                registration.whatsapp_event_url = event.company_id.website or registration.get_base_url()

    def _whatsapp_safe_fields(self):
        return super()._whatsapp_safe_fields() + [
            "name",
            "partner_id.name",
            "company_name",
            "event_id.name",
            "event_id.date_begin_located",
            "event_id.date_end_located",
            "event_id.date_tz",
            "event_id.address_inline",
            "event_id.address_id.name",
            "event_id.address_id.partner_latitude",
            "event_id.address_id.partner_longitude",
            "event_id.organizer_id.name",
            "event_ticket_id.name",
            "whatsapp_event_url",
        ]
