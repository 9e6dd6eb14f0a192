from odoo import api, models
from odoo.exceptions import AccessError, UserError

from .whatsapp_template import STATUSES

#: statuses in which an administrator may still change the content (the others are Meta's to change)
EDITABLE_STATUSES = ("draft", "rejected", "paused", "approved")
#: fields whose change makes an already submitted template need a new submission
CONTENT_FIELDS = {
    "body",
    "header_type",
    "header_text",
    "header_attachment_ids",
    "report_id",
    "footer",
    "button_ids",
    "category",
}
MULTI_ACTION_CODE = 'action = env["whatsapp.template"]._action_open_composer_multi(records)'


class WhatsAppTemplate(models.Model):
    """Life cycle of templates: creation and edition rules, and the "WhatsApp" list action (Allow Multi)."""

    _inherit = "whatsapp.template"

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        default_model = self.env["ir.model"]._get_id("res.partner")
        for vals in vals_list:
            if vals.get("model_id", default_model) != default_model:
                self._check_can_change_model()
        templates = super().create(vals_list)
        templates._compute_variable_ids()  # reconcile lines given in vals with the placeholders
        templates.filtered("allow_multi")._update_multi_action()
        return templates

    def write(self, vals):
        if "model_id" in vals and any(t.model_id.id != vals["model_id"] for t in self):
            self._check_can_change_model()
        if CONTENT_FIELDS & set(vals) and not self.env.context.get("whatsapp_template_sync"):
            self._mark_content_changed()
        result = super().write(vals)
        if {"allow_multi", "model_id", "active"} & set(vals):
            self._update_multi_action()
        return result

    def unlink(self):
        actions = self.multi_action_id
        result = super().unlink()
        self.browse()._cleanup_multi_actions(actions)
        return result

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        for template, vals in zip(self, vals_list, strict=True):
            vals.setdefault("name", self.env._("%(name)s (copy)", name=template.name))
        return vals_list

    def _check_can_change_model(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._(
                    "Applies to: only Settings administrators may choose the model of a WhatsApp template; "
                    "ask one to set it."
                )
            )

    def _mark_content_changed(self):
        """An edited submitted template goes back to draft until it is submitted again."""
        locked = self.filtered(lambda t: t.status not in EDITABLE_STATUSES)
        if locked:
            raise UserError(
                self.env._(
                    "The template “%(name)s” is %(status)s on Meta and cannot be edited now. Wait for Meta's "
                    "decision or sync the template, or duplicate it to start a new one.",
                    name=locked[0].name,
                    status=dict(STATUSES)[locked[0].status],
                )
            )
        for template in self.filtered(lambda t: t.meta_uid and t.status != "draft"):
            template.approved_before_edit = template.status == "approved"
            template.status = "draft"

    # ------------------------------------------------------------
    # ALLOW MULTI
    # ------------------------------------------------------------

    def _update_multi_action(self):
        """One "WhatsApp" action on the list view of each model having a template with Allow Multi."""
        # sudo: binding actions are technical records that WhatsApp administrators may not create themselves
        Action = self.env["ir.actions.server"].sudo()
        Template = self.sudo().with_context(active_test=True)  # sudo: see every template of the model
        for model in set(self.mapped("model")) | set(self.sudo().multi_action_id.model_id.mapped("model")):
            templates = Template.search([("model", "=", model), ("allow_multi", "=", True)])
            action = Action.search(
                [("model_id.model", "=", model), ("code", "=", MULTI_ACTION_CODE)], limit=1
            )
            if templates and not action:
                model_id = self.env["ir.model"]._get_id(model)
                action = Action.create(
                    {
                        "name": self.env._("WhatsApp"),
                        "model_id": model_id,
                        "binding_model_id": model_id,
                        "binding_view_types": "list",
                        "state": "code",
                        "code": MULTI_ACTION_CODE,
                        "groups_id": [(6, 0, [self.env.ref("whatsapp.group_whatsapp_user").id])],
                    }
                )
            elif not templates and action:
                action.unlink()
                action = Action
            stale = Template.search([("model", "=", model), ("multi_action_id", "!=", action.id or False)])
            (stale & templates).write({"multi_action_id": action.id})
            (stale - templates).filtered("multi_action_id").write({"multi_action_id": False})

    def _cleanup_multi_actions(self, actions):
        for action in actions.sudo().exists():  # sudo: see _update_multi_action
            if not self.sudo().search_count(
                [("model", "=", action.model_id.model), ("allow_multi", "=", True)]
            ):
                action.unlink()

    @api.model
    def _action_open_composer_multi(self, records):
        """Open the WhatsApp composer on a selection of records (target of the list action)."""
        if "whatsapp.composer" not in self.env:
            raise UserError(self.env._("The WhatsApp composer is not available."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send WhatsApp"),
            "res_model": "whatsapp.composer",
            "view_mode": "form",
            "target": "new",
            "context": {
                "active_model": records._name,
                "active_ids": records.ids,
                "default_res_model": records._name,
                "default_res_ids": records.ids,
            },
        }
