-- wrk: Twilio send SMS (form-encoded, Basic auth with the session's Account SID
-- and auth token), to a number that is delivered, with a status callback-free
-- message (the callbacks' HTTP is the dispatcher's, not the request's).
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "To=%2B14155552671&From=%2B15005550006&Body=Your+code+is+123456"
