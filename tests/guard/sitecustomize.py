"""Put on PYTHONPATH by the end-to-end tests so that `workbench` subprocesses are guarded too."""

from tests import network_guard

network_guard.install()
