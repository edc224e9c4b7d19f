"""The app that langgraph.json mounts (`http.app`): the service endpoints, set from the env.

The LangGraph server loads this file by path, as a module outside `sys.modules`, so it
only builds the app; everything it is made of lives in importable modules.
"""

from codeloop.server.service import create_app

app = create_app()
