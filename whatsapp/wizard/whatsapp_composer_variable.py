from odoo import fields, models


class WhatsAppComposerVariable(models.TransientModel):
    """A free-text variable of the composer's template and the value the sender typed for it."""

    _name = "whatsapp.composer.variable"
    _description = "WhatsApp Composer Free Text"
    _order = "sequence, id"

    composer_id = fields.Many2one("whatsapp.composer", required=True, ondelete="cascade", index=True)
    variable_id = fields.Many2one(
        "whatsapp.template.variable", "Template Variable", required=True, ondelete="cascade"
    )
    sequence = fields.Integer()
    name = fields.Char(related="variable_id.name", string="Variable")
    value = fields.Char(help="Sent to every recipient in place of the placeholder.")
