-- wrk: Stripe create-subscription (its first invoice finalized and paid with the
-- customer's card). KEY is the session's secret key, BODY the form (customer and
-- price of the session).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BODY")
