"""State made in one test is gone in the next; seeds by marker; opting out."""

import os

import pytest
import resend.exceptions

SEEDED = 4  # customers in stripe:default


def emails(stripe):
    return sorted(c.email for c in stripe.v1.customers.list({"limit": 100}).data)


def test_a_customer_created_in_one_test(mirra_stripe):
    assert len(emails(mirra_stripe)) == SEEDED
    mirra_stripe.v1.customers.create({"email": "left-behind@example.com"})
    assert "left-behind@example.com" in emails(mirra_stripe)


def test_is_gone_in_the_next(mirra_stripe):
    assert "left-behind@example.com" not in emails(mirra_stripe)
    assert len(emails(mirra_stripe)) == SEEDED


@pytest.mark.mirra(reset=False)
def test_a_test_that_opts_out_sees_the_last_tests_state(mirra_stripe):
    mirra_stripe.v1.customers.create({"email": "kept@example.com"})


@pytest.mark.mirra(reset=False)
def test_and_so_does_the_next_one_that_opts_out(mirra_stripe):
    assert "kept@example.com" in emails(mirra_stripe)


@pytest.mark.mirra(seed_files={"stripe": {"customers": [{"email": "only@seed.test"}]}})
def test_a_marker_seeds_one_test(mirra_stripe):
    assert emails(mirra_stripe) == ["only@seed.test"]


def test_the_next_test_has_the_runs_seed_back(mirra_stripe):
    assert len(emails(mirra_stripe)) == SEEDED
    assert "only@seed.test" not in emails(mirra_stripe)


@pytest.mark.mirra(seed="resend:over-quota")
def test_a_named_seed_by_marker(mirra_resend):
    with pytest.raises(resend.exceptions.ResendError) as e:
        mirra_resend.Emails.send({"from": "onboarding@resend.dev", "to": "a@b.test",
                                  "subject": "s", "text": "t"})
    assert "quota" in str(e.value).lower()


def test_after_it_resend_sends_again(mirra_resend):
    sent = mirra_resend.Emails.send({"from": "onboarding@resend.dev", "to": "a@b.test",
                                     "subject": "s", "text": "t"})
    assert sent["id"]


def test_the_session_env_is_set_for_the_code_under_test(mirra):
    import stripe

    # Application code that reads the usual variables, not the fixture.
    client = stripe.StripeClient(os.environ["STRIPE_SECRET_KEY"],
                                 base_addresses={"api": os.environ["STRIPE_API_BASE"]})
    assert os.environ["MIRRA_SESSION"] == mirra.id
    assert len(client.v1.customers.list().data) == SEEDED


def test_snapshot_and_restore_from_a_test(mirra, mirra_stripe):
    mirra_stripe.v1.customers.create({"email": "snap@example.com"})
    snap = mirra.snapshot()
    mirra.reset()
    assert "snap@example.com" not in emails(mirra_stripe)
    mirra.restore(snap)
    assert "snap@example.com" in emails(mirra_stripe)


def test_twilio_client_sends_through_the_session(mirra_twilio, mirra):
    sid = mirra.credentials("twilio")["account_sid"]
    m = mirra_twilio.messages.create(to="+15005550006", from_="+15005550006", body="hi")
    assert m.account_sid == sid and m.status == "queued"
