"""`daemonctl serve`: the state directory over HTTP, a JSON API and a dashboard.

Standard library only (http.server, threads), and imported by the `serve` command
alone: start, status and stop never load any of it.
"""
