from contextlib import contextmanager
from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time
from odoo.addons.event.tests.common import EventCase
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.whatsapp.tests.common import WhatsAppCommon
from odoo.addons.whatsapp.tests.common_messages import WhatsAppMessageMixin


@contextmanager
def frozen_now(env, moment):
    """Freeze Python's clock and the cursor's ``now()`` (used by the schedulers' domains) at ``moment``."""
    with freeze_time(moment), patch.object(env.cr, "now", lambda: moment):
        yield


class WhatsAppEventCase(WhatsAppMessageMixin, WhatsAppCommon, EventCase):
    """Events + WhatsApp fixtures: the two ready templates, approved for the fixture account, a venue with
    coordinates, an event manager who is also a WhatsApp user, and an event with WhatsApp schedulers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("event.event_mail_async", False)
        cls.user_event_wa = mail_new_test_user(
            cls.env,
            login="event_wa",
            groups="base.group_user,event.group_event_manager,whatsapp.group_whatsapp_user",
            name="Eve Events",
            tz="Europe/Brussels",
        )
        cls.template_ticket = cls._approve(cls.env.ref("whatsapp_event.whatsapp_template_event_ticket"))
        cls.template_reminder = cls._approve(cls.env.ref("whatsapp_event.whatsapp_template_event_reminder"))
        cls.venue = cls.env["res.partner"].create(
            {
                "name": "Hall 7",
                "street": "Rue Haute 5",
                "city": "Brussels",
                "partner_latitude": 50.8467,
                "partner_longitude": 4.3525,
            }
        )
        cls.reference_now = datetime(2026, 3, 20, 14, 30, 15)
        cls.event_date_begin = datetime(2026, 3, 25, 8, 0, 0)  # 09:00 in Brussels
        cls.event_date_end = datetime(2026, 3, 27, 16, 0, 0)

    @classmethod
    def _approve(cls, template, **values):
        """The template as Meta approved it, on the fixture account."""
        # sudo: fixture; statuses come from Meta (sync context skips the edit rules)
        template.sudo().with_context(whatsapp_template_sync=True).write(
            {"account_id": cls.account.id, "status": "approved", "meta_uid": f"meta-{template.id}", **values}
        )
        return template

    @classmethod
    def _create_event(cls, schedulers, **values):
        with frozen_now(cls.env, cls.reference_now):
            return cls.env["event.event"].create(
                {
                    "name": "Design Fair",
                    "date_begin": cls.event_date_begin,
                    "date_end": cls.event_date_end,
                    "date_tz": "Europe/Brussels",
                    "address_id": cls.venue.id,
                    **(
                        {"event_mail_ids": [(5, 0)] + [(0, 0, vals) for vals in schedulers]}
                        if schedulers
                        else {}
                    ),
                    **values,
                }
            )

    @staticmethod
    def _scheduler_vals(template, interval_type, interval_nbr=1, interval_unit="days"):
        return {
            "interval_nbr": interval_nbr,
            "interval_unit": "now" if interval_type == "after_sub" else interval_unit,
            "interval_type": interval_type,
            "template_ref": f"whatsapp.template,{template.id}",
        }

    def _register(self, event, phones):
        return self.env["event.registration"].create(
            [
                {
                    "event_id": event.id,
                    "name": f"Attendee {index}",
                    "email": f"att{index}@example.com",
                    "phone": phone,
                }
                for index, phone in enumerate(phones)
            ]
        )

    def _messages(self, registrations):
        # sudo: assertions on the technical message records
        return (
            self.env["whatsapp.message"]
            .sudo()
            .search([("model", "=", "event.registration"), ("res_id", "in", registrations.ids)], order="id")
        )
