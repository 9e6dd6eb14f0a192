from . import test_event_templates
from . import test_whatsapp_schedule
from . import test_i18n
