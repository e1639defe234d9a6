-- wrk: Stripe create-and-confirm PaymentIntent (a card payment: the intent, its
-- charge, its balance transaction and four events). KEY is the session's secret key.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- PAY_EXTRA replaces the payment-method-types parameter (localstripe refuses it).
wrk.body = "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[run]=wrk"
  .. (os.getenv("PAY_EXTRA") or "&allowed_payment_method_types[]=card")
