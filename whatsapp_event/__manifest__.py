{
    "name": "WhatsApp - Events",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Bridge between WhatsApp and Events",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["event", "whatsapp"],
    "auto_install": True,
}
