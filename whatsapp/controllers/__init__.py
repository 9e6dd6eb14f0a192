from . import fast_lane, main, webhook
