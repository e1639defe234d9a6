# test_signup.py (pip install ./clients/python pytest-xdist stripe; pytest -n 4)
import os

import stripe


def create_customer(email):  # the code under test: reads the usual variables
    client = stripe.StripeClient(os.environ["STRIPE_SECRET_KEY"],
                                 base_addresses={"api": os.environ["STRIPE_API_BASE"]})
    return client.v1.customers.create({"email": email})


def test_signup_creates_a_customer(mirra_stripe):
    create_customer("new@example.com")
    found = mirra_stripe.v1.customers.list({"email": "new@example.com"})
    assert len(found.data) == 1


def test_the_next_test_starts_from_the_seed(mirra_stripe):
    assert mirra_stripe.v1.customers.list({"email": "new@example.com"}).data == []

