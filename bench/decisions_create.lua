-- POST a new decision request each time (no Idempotency-Key: every call queues one).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"automation": "bench-decisions", "kind": "strategic_lead_route", "record_object": "Lead", ' ..
  '"record_id": "00QBENCH", "why": "Lead from a named strategic account; territory and owner disagree.", ' ..
  '"evidence": {"Account tier": "Strategic"}, "proposed_action": "Route to the named account owner."}'
