"""What the channels domain contributes to the app (collected by workspace/app.py): REST routes, the ``/ws``
endpoint, the fan-out plugin (whose start-up installs the event publisher and the logout/kill-switch hooks), its
publisher-only twin for CLI commands, ``chorus export messages``, and the channel pages (list, live view, threads)
with their script."""

from __future__ import annotations

from pathlib import Path

from channels import config, pages
from channels.cli import export_group
from channels.controllers import ROUTES
from channels.fanout import build_plugin, standalone
from channels.ws import Hub, ws_route
from workspace.domain import DomainParts
from workspace.settings import Settings


def parts(settings: Settings) -> DomainParts:
    config.configure(settings.limits)
    plugin = build_plugin(settings)
    hub = Hub(settings, plugin)
    here = Path(__file__).parent
    return DomainParts(name="channels", route_handlers=[*ROUTES, ws_route(hub), pages.router()], plugins=[plugin],
                       cli_commands=[export_group], standalone=[standalone], template_dirs=[here / "templates"],
                       static_dirs={"/static/channels": here / "static"})
