"""The domain model: events, the lifecycle state machine and dispatch orders."""
