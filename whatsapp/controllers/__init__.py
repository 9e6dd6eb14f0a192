from . import fast_lane, main, onboarding, webhook
