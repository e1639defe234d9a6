#!/usr/bin/env python3
"""Buys and configures numbers and messaging services on a live Mirra Twilio
mirror with the OFFICIAL `twilio` Python SDK (its domains' `base_url`
pointed at the session, as in twilio_messages.py).

Environment:
  TWILIO_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN   the session's mirror
  MIRRA_URL, MIRRA_TOKEN   the server's root and workspace token (the
                           control plane's inbound endpoint)

Exercises AvailablePhoneNumbers (Local by area code and pattern, Mobile,
TollFree), buying by number and by area code, Twilio's test-number refusals,
updating a number's SmsUrl, a messaging service made through the Messaging
API with the bought number as its sender: a message sent and scheduled
through it, its inbound URL getting a signed webhook that the SDK's
`RequestValidator` accepts, and releasing the number. Exits non-zero on the
first failure; prints one summary line.
"""

import datetime
import http.server
import json
import threading
import urllib.parse
import urllib.request

import twilio
from checks import PASSED, check, env, run
from checks import twilio_refused as refused
from twilio.request_validator import RequestValidator
from twilio.rest import Client



def start_app():
    """An app on loopback recording each webhook's URL, params and signature."""
    got = []

    class App(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
            url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
            got.append((url, params, self.headers.get("X-Twilio-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            self.wfile.write(b"<Response/>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/sms", got


def inbound(session, to, body):
    req = urllib.request.Request(
        f"{env('MIRRA_URL')}/v1/sessions/{session}/twilio/inbound",
        method="POST",
        data=json.dumps({"from": "+14155552671", "to": to, "body": body}).encode(),
        headers={"Authorization": f"Bearer {env('MIRRA_TOKEN')}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def main():
    url, sid, token = env("TWILIO_BASE_URL"), env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN")
    session = url.rstrip("/").split("/")[-2]
    c = Client(sid, token)
    c.api.base_url = url
    c.messaging.base_url = url

    # -- the catalogue
    local = c.available_phone_numbers("US").local.list(area_code=415, limit=3)
    check([n.phone_number for n in local] == ["+14155550100", "+14155550101", "+14155550102"],
          f"three San Francisco numbers for sale, got {[n.phone_number for n in local]}")
    check(local[0].friendly_name == "(415) 555-0100" and local[0].locality == "San Francisco",
          "friendly_name and locality")
    check(local[0].capabilities["sms"] is True, "capabilities")
    matched = c.available_phone_numbers("US").local.list(contains="512*****42", limit=5)
    check([n.phone_number for n in matched] == ["+15125550142"], "Contains with wildcards")
    check(len(c.available_phone_numbers("GB").mobile.list(limit=2)) == 2, "GB mobile numbers")
    check(len(c.available_phone_numbers("US").toll_free.list(limit=2)) == 2, "US toll-free numbers")
    check(c.available_phone_numbers("US").local.list(area_code=533) == [], "area code 533 has none")

    # -- buying
    (app_url, got) = start_app()
    bought = c.incoming_phone_numbers.create(phone_number=local[0].phone_number, sms_url=app_url)
    check(bought.sid.startswith("PN") and bought.phone_number == "+14155550100", "bought by number")
    check(bought.sms_url == app_url, "SmsUrl set when buying")
    second = c.incoming_phone_numbers.create(area_code="206")
    check(second.phone_number == "+12065550100", f"bought by area code: {second.phone_number}")
    refused(21422, lambda: c.incoming_phone_numbers.create(phone_number="+15005550000"), "unavailable")
    refused(21421, lambda: c.incoming_phone_numbers.create(phone_number="+15005550001"), "invalid")
    refused(21452, lambda: c.incoming_phone_numbers.create(area_code="533"), "none in area code")
    refused(21422, lambda: c.incoming_phone_numbers.create(phone_number="+14155550100"), "already owned")
    listed = [n.phone_number for n in c.incoming_phone_numbers.list()]
    check("+14155550100" in listed and "+12065550100" in listed, f"both listed: {listed}")
    check([n.sid for n in c.incoming_phone_numbers.list(phone_number="+12065550100")] == [second.sid],
          "list filtered by PhoneNumber")

    # -- an inbound message reaches the SmsUrl set by update
    updated = c.incoming_phone_numbers(second.sid).update(sms_url=app_url + "?n=2", friendly_name="Seattle")
    check(updated.friendly_name == "Seattle" and c.incoming_phone_numbers(second.sid).fetch().sms_url == app_url + "?n=2",
          "update persists")
    inbound(session, "+12065550100", "hello")
    check(len(got) == 1 and got[0][0].endswith("/sms?n=2") and got[0][1]["Body"] == "hello",
          "the inbound webhook went to the updated SmsUrl")
    check(RequestValidator(token).validate(*got[0]), "its signature validates")

    # -- a messaging service with the bought number
    service = c.messaging.v1.services.create(friendly_name="Alerts", inbound_request_url=app_url + "?via=service")
    check(service.sid.startswith("MG") and service.friendly_name == "Alerts", "service created")
    sender = c.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=bought.sid)
    check(sender.phone_number == "+14155550100" and sender.service_sid == service.sid, "number added")
    refused(21710, lambda: c.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=bought.sid),
            "a number twice")
    check([p.sid for p in c.messaging.v1.services(service.sid).phone_numbers.list()] == [bought.sid],
          "the service's numbers")
    check(service.sid in [s.sid for s in c.messaging.v1.services.list()], "services listed")
    m = c.messages.create(to="+14155552671", messaging_service_sid=service.sid, body="via service")
    check(m.from_ == "+14155550100" and m.messaging_service_sid == service.sid, "sent from the service's number")
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    scheduled = c.messages.create(to="+14155552671", messaging_service_sid=service.sid, body="later",
                                  schedule_type="fixed", send_at=later)
    check(scheduled.status == "scheduled", f"scheduled through the service: {scheduled.status}")
    check(c.messages(scheduled.sid).update(status="canceled").status == "canceled", "canceled")
    inbound(session, "+14155550100", "to the service")
    check(len(got) == 2 and got[1][0].endswith("/sms?via=service"), "inbound goes to the service's URL")
    check(RequestValidator(token).validate(*got[1]), "the service's webhook validates")
    renamed = c.messaging.v1.services(service.sid).update(friendly_name="Renamed")
    check(renamed.friendly_name == "Renamed", "service updated")

    # -- release
    check(c.incoming_phone_numbers(bought.sid).delete() is True, "released")
    refused(20404, lambda: c.incoming_phone_numbers(bought.sid).fetch(), "a released number")
    check(c.messaging.v1.services(service.sid).phone_numbers.list() == [], "it left the service")
    refused(21704, lambda: c.messages.create(to="+14155552671", messaging_service_sid=service.sid, body="x"),
            "a service without numbers")
    check(c.messaging.v1.services(service.sid).delete() is True, "service deleted")

    print(f"twilio-python {twilio.__version__}: {len(PASSED)} checks passed")


if __name__ == "__main__":
    run(main)
