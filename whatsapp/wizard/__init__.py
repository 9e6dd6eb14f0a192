from . import whatsapp_composer
from . import whatsapp_composer_variable
from . import whatsapp_resend
from . import whatsapp_resend_recipient
