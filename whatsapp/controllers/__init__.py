from . import main
from . import onboarding
