from . import test_whatsapp_sale
from . import test_i18n
