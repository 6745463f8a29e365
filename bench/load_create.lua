-- A CRM queues a decision request (integration token; permit check, validation, insert, history).
wrk.method = "POST"
wrk.path = "/api/v1/decisions/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"automation": "bench-load-000", "kind": "strategic_lead_route", "record_object": "Lead", ' ..
  '"record_id": "00QLOAD", "why": "Lead from a named strategic account; territory and owner disagree.", ' ..
  '"evidence": {"Account tier": "Strategic"}, "proposed_action": "Route to the named account owner."}'
