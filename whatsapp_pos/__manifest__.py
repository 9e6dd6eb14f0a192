{
    "name": "WhatsApp - Point of Sale",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Bridge between WhatsApp and Point of Sale",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["point_of_sale", "whatsapp"],
    "auto_install": True,
}
