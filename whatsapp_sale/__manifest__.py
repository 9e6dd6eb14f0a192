{
    "name": "WhatsApp - Sales",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Bridge between WhatsApp and Sales",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["sale", "whatsapp"],
    "auto_install": True,
}
