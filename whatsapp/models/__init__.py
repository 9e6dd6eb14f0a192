from . import res_config_settings
from . import whatsapp_account
from . import whatsapp_webhook_event
