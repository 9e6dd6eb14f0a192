from . import whatsapp_composer
from . import whatsapp_composer_variable
