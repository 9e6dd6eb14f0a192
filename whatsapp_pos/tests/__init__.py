from . import test_whatsapp_pos
from . import test_whatsapp_pos_tour
