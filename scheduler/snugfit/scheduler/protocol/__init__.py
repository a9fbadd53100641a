"""What crosses the wire: extender messages, pod GPU requests, node GPU inventories.

Pure functions over decoded JSON; no I/O, no aiohttp, no API client.
"""
