from tests.support.watchdog import hard_timeout

__all__ = ["hard_timeout"]
