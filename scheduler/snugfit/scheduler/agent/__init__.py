"""The node agent: reads the node's GPUs through NVML and reports them on the Node object."""
