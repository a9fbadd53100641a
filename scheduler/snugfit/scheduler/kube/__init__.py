"""A small asyncio client for the Kubernetes API server, and the list+watch reflector."""
