{
    "name": "WhatsApp - Sales",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Send quotations and orders by WhatsApp: PDF, amount and portal link",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["sale", "whatsapp"],
    "data": [
        "data/whatsapp_template_data.xml",
        "views/sale_order_views.xml",
    ],
    "demo": [
        "demo/sale_demo.xml",
    ],
    "auto_install": True,
}
