"""Import every architecture module so that their builders register themselves."""
# Architecture modules are added here as they land (frontends, texture, lcl, baselines).
