"""Capacity planning: the cheapest cluster of catalogue node types that serves a workload."""
