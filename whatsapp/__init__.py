from . import controllers, models, wizard


def _post_load():
    """Once per server process: the webhook's fast lane (``controllers/fast_lane.py``)."""
    controllers.fast_lane.install()
