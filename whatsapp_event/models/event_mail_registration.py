from odoo import models


class EventMailRegistration(models.Model):
    _inherit = "event.mail.registration"

    def _execute_on_registrations(self):
        """Send the WhatsApp "after each registration" communications.

        A registration whose send failed stays not sent (retried by the next scheduler run once the cause is
        fixed) and is listed on its scheduler; it never blocks the registration itself nor the others.
        """
        todo = self.filtered(lambda reg_mail: reg_mail.scheduler_id.notification_type == "whatsapp")
        for scheduler, reg_mails in todo.grouped("scheduler_id").items():
            failed = scheduler._send_whatsapp(reg_mails.registration_id)
            reg_mails.filtered(
                lambda reg_mail, failed=failed: reg_mail.registration_id not in failed
            ).mail_sent = True
        return super(EventMailRegistration, self - todo)._execute_on_registrations()
