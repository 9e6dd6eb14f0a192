{
    "name": "WhatsApp - Point of Sale",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Send POS receipts (image) and invoices (PDF) by WhatsApp from the receipt screen",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["point_of_sale", "whatsapp"],
    "data": [
        "data/whatsapp_template_data.xml",
        "views/res_config_settings_views.xml",
        "views/pos_order_views.xml",
    ],
    "demo": [
        "demo/pos_demo.xml",
    ],
    "assets": {
        "point_of_sale._assets_pos": [
            "whatsapp_pos/static/src/**/*",
        ],
        "web.assets_tests": [
            "whatsapp_pos/static/tests/tours/**/*",
        ],
    },
    "auto_install": True,
}
