"""handoff's imperative shell: Slack, Redis/RQ, the SQLite ledger, the Anthropic client and the CLI."""
