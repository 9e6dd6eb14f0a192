from . import test_whatsapp_sale
