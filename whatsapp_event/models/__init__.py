from . import event_mail
from . import event_mail_registration
from . import event_registration
from . import event_type_mail
from . import whatsapp_template
