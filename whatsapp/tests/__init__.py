from . import test_whatsapp_account
from . import test_webhook_controller
from . import test_webhook_inbox
from . import test_whatsapp_template_validation
from . import test_whatsapp_template_meta
from . import test_whatsapp_message
from . import test_whatsapp_message_status
