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
    ],
    "application": True,
}
