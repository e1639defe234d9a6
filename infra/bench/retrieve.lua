-- wrk: Stripe retrieve-customer (the URL names the customer). KEY is the secret key.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
