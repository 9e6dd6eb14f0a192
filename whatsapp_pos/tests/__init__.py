from . import test_whatsapp_pos
from . import test_whatsapp_pos_tour
from . import test_i18n
