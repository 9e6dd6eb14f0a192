{
    "name": "WhatsApp",
    "version": "18.0.1.0.0",
    "category": "Marketing/WhatsApp",
    "summary": "Send WhatsApp templates from any record and chat with customers in Discuss",
    "author": "WhatsApp for Odoo contributors",
    "website": "https://github.com/whatsapp-odoo/whatsapp-odoo",
    "license": "LGPL-3",
    "depends": ["mail", "phone_validation"],
    "external_dependencies": {"python": ["phonenumbers", "requests"]},
    "data": [
        "security/whatsapp_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/whatsapp_account_views.xml",
        "views/whatsapp_webhook_event_views.xml",
        "views/res_config_settings_views.xml",
        "views/whatsapp_menus.xml",
    ],
    "demo": [
        "demo/whatsapp_account_demo.xml",
    ],
    "application": True,
}
