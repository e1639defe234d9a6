-- wrk: Stripe create-charge with a test token (for peers without PaymentIntents).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "amount=2000&currency=usd&source=tok_visa&metadata[run]=wrk"
