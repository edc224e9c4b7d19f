"""The HTTP surface beyond LangGraph's own API: health and the single-step endpoints.

`codeloop.server.app:app` is mounted into `langgraph dev` (and the LangGraph API server)
through `http.app` in langgraph.json, so the loop's API, Studio and these endpoints share
one server. It also runs alone: `uvicorn codeloop.server.app:app`.
"""
