from markupsafe import Markup
from odoo import api, models
from odoo.osv import expression


class WhatsAppTemplate(models.Model):
    _inherit = "whatsapp.template"

    @api.model
    def _search(self, domain, *args, **kwargs):
        """Only registration templates in the template field of event schedulers (a reference field has no
        domain: the event views pass ``filter_template_on_event`` in its context, as for e-mail and SMS)."""
        if self.env.context.get("filter_template_on_event"):
            domain = expression.AND([[("model", "=", "event.registration")], domain])
        return super()._search(domain, *args, **kwargs)

    def unlink(self):
        """Schedulers of a deleted template are removed (as with SMS templates), with a note on each event."""
        refs = [f"{template._name},{template.id}" for template in self]
        names = {template.id: template.name for template in self}
        # sudo: schedulers of every event using the template, whoever deletes it
        schedulers = self.env["event.mail"].sudo().search([("template_ref", "in", refs)])
        type_lines = self.env["event.type.mail"].sudo().search([("template_ref", "in", refs)])
        notes = [(scheduler.event_id, names.get(scheduler.template_ref.id)) for scheduler in schedulers]
        result = super().unlink()
        for event, name in notes:
            event.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "The WhatsApp template “%(template)s” was deleted: its communication was removed from this "
                    "event.",
                    template=name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        schedulers.unlink()
        type_lines.unlink()
        return result
