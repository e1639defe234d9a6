"""Mirra for Python: the control-plane client (`find_server`, `Session`) and a
pytest plugin (`mirra.pytest_plugin`, registered on install) that gives each
test a pristine mirror state."""

from .control import Control, MirraError
from .server import find_server, start_server
from .session import Session

__all__ = ["Control", "MirraError", "Session", "find_server", "start_server"]
