{
    "name": "WhatsApp - Events",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Send event tickets and reminders by WhatsApp from event schedulers",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["event", "whatsapp"],
    "data": [
        "data/whatsapp_template_data.xml",
        "views/event_mail_views.xml",
    ],
    "demo": [
        "demo/event_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "whatsapp_event/static/src/**/*",
        ],
    },
    "auto_install": True,
}
