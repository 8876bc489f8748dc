"""Framework adapters: handoff as the approval backend of agent frameworks (see docs/adapters.md)."""
