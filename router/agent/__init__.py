"""Clients of the router: the client library and the reporting agent.

A client: nothing here imports ``router.api`` (the server side).
"""
