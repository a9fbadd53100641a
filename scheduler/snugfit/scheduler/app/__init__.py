"""The extender service: configuration, HTTP handlers, binding, metrics."""
