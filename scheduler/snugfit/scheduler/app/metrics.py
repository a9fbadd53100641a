"""Prometheus metrics of one extender instance (its own registry, no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class ExtenderMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.latency = Histogram(
            "snugfit_extender_request_seconds",
            "Time to answer a verb",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.after_reply = Histogram(
            "snugfit_extender_after_reply_seconds",
            "Work done once a verb's reply is sent (filter: the prioritize reply prepared)",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.prioritize_replies = Counter(
            "snugfit_extender_prioritize_replies_total",
            "Prioritize replies, by whether the one prepared after filter was used",
            ["source"],
            registry=r,
        )
        self.prioritize_unparsed = Counter(
            "snugfit_extender_prioritize_unparsed_total",
            "Prioritize requests known, byte for byte, as the one a filter reply leads to",
            registry=r,
        )
        self.requests = Counter(
            "snugfit_extender_requests_total",
            "Requests by verb and outcome",
            ["verb", "outcome"],
            registry=r,
        )
        self.gpus_allocated = Gauge(
            "snugfit_gpu_allocated", "GPU share allocated, in GPUs", registry=r
        )
        self.gpus_free = Gauge("snugfit_gpu_free", "GPU share free, in GPUs", registry=r)
        self.gpus_idle = Gauge("snugfit_gpu_idle_whole", "GPUs with nothing on them", registry=r)
        self.fragmentation = Gauge(
            "snugfit_gpu_fragmentation",
            "Cluster GPU fragmentation (FGD measure), in GPUs",
            registry=r,
        )
        self.nodes = Gauge(
            "snugfit_nodes", "Nodes known, by GPU inventory source", ["source"], registry=r
        )
        self.conflicts = Gauge(
            "snugfit_assignment_conflicts", "Recorded GPU assignments that did not fit", registry=r
        )
        self.reservations = Gauge(
            "snugfit_reservations_in_flight", "GPU reservations of binds in flight", registry=r
        )
        self.watch_events = Counter(
            "snugfit_watch_events_total", "Watch events applied", ["resource"], registry=r
        )
