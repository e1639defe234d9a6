-- wrk: Resend send-email (one recipient, HTML body) with the session's key.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"from":"Acme <hello@example.com>","to":"ann@test.dev","subject":"Hi","html":"<p>Hello <a href=\\"https://app.test/x\\">there</a></p>"}'
