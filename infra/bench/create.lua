-- wrk: Stripe create-customer. KEY is the session's secret key.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "email=bench%40example.com&name=Bench+Customer&metadata[run]=wrk"
