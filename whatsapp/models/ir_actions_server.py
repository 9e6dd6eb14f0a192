import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)


class IrActionsServer(models.Model):
    """Server action type "Send WhatsApp" (automations): queue a template to the action's records."""

    _inherit = "ir.actions.server"

    state = fields.Selection(selection_add=[("whatsapp", "Send WhatsApp")], ondelete={"whatsapp": "cascade"})
    whatsapp_template_id = fields.Many2one(
        "whatsapp.template",
        "WhatsApp Template",
        compute="_compute_whatsapp_template_id",
        store=True,
        readonly=False,
        ondelete="set null",
        domain="[('model_id', '=', model_id), ('status', '=', 'approved')]",
        help="Approved template of the action's model. Its free-text variables get their sample values.",
    )

    @api.depends("state")
    def _compute_available_model_ids(self):  # pylint: disable=missing-return
        whatsapp_actions = self.filtered(lambda action: action.state == "whatsapp")
        if whatsapp_actions:
            thread_models = self.env["ir.model"].search(
                [("is_mail_thread", "=", True), ("transient", "=", False)]
            )
            whatsapp_actions.available_model_ids = thread_models.ids
        super(IrActionsServer, self - whatsapp_actions)._compute_available_model_ids()

    @api.depends("model_id", "state")
    def _compute_whatsapp_template_id(self):
        to_reset = self.filtered(
            lambda action: (
                action.state != "whatsapp" or action.whatsapp_template_id.model_id != action.model_id
            )
        )
        to_reset.whatsapp_template_id = False

    @api.constrains("state", "model_id", "whatsapp_template_id")
    def _check_whatsapp_action(self):
        for action in self.filtered(lambda action: action.state == "whatsapp"):
            if action.model_id.transient or not action.model_id.is_mail_thread:
                raise ValidationError(
                    self.env._(
                        "Action “%(name)s”: WhatsApp messages can only be sent from models with a chatter.",
                        name=action.name,
                    )
                )
            if action.whatsapp_template_id and action.whatsapp_template_id.model_id != action.model_id:
                raise ValidationError(
                    self.env._(
                        "Action “%(name)s”: the WhatsApp template “%(template)s” is meant for another model.",
                        name=action.name,
                        template=action.whatsapp_template_id.name,
                    )
                )

    def _run_action_whatsapp_multi(self, eval_context=None):
        """Queue the template to the records of the action (never sent inline: automations may run on many
        records). Values are evaluated with the rights of the user running the action."""
        records = (eval_context or {}).get("records") or (eval_context or {}).get("record")
        template = self.whatsapp_template_id
        if not template or not records or self._is_recompute():
            return False
        if template.status != "approved":
            _logger.warning(
                "Server action %s: WhatsApp template %s is %s, nothing sent",
                self.id,
                template.id,
                template.status,
            )
            return False
        free_text = {
            variable.id: variable.demo_value
            for variable in template.variable_ids
            if variable.field_type == "free_text"
        }
        records._whatsapp_send_template(template, free_text=free_text, queue=None)
        return False
