"""The human-in-the-loop decision queue: DecisionRequests a person decides once, with the outcome
sent back to the CRM (webhook outbox) — part of the approvals app, in its own package."""
