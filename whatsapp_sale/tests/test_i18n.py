from odoo.addons.whatsapp.tests.common_i18n import I18nCheckMixin
from odoo.tests import TransactionCase, tagged


@tagged("whatsapp_sale", "post_install", "-at_install")
class TestI18n(I18nCheckMixin, TransactionCase):
    """French is complete and the .pot follows the code (``./dev i18n`` regenerates both)."""

    module = "whatsapp_sale"

    def test_fr_po_complete(self):
        self.assertPoComplete(self.module)

    def test_pot_in_sync(self):
        self.assertPotInSync(self.module)
