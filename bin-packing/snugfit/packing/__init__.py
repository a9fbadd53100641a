"""The pure packing core: cluster state as arrays, pod demands, feasibility, policies.

Nothing here does I/O or knows about Kubernetes; the extender and the simulator both call it.
"""
