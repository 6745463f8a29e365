-- POST with an empty body (a ping: POST …/runs/success, and its floor).
wrk.method = "POST"
wrk.body = ""
