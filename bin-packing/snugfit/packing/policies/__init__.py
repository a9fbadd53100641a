"""Packing policies, one per module, looked up by name from one registry."""

from __future__ import annotations

from snugfit.packing.policies.base import Policy, PolicyContext
from snugfit.packing.policies.registry import POLICIES, PUBLISHED, make_policy

__all__ = ["POLICIES", "PUBLISHED", "Policy", "PolicyContext", "make_policy"]
