"""The extender's live view of the cluster, fed by watches on the API server."""
