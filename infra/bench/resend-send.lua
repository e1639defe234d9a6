-- wrk: Resend send email (JSON). KEY is the session's re_ API key.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"from":"Acme <hello@example.com>","to":["delivered@resend.dev"],"subject":"Bench","html":"<p>Hi <a href=\\"https://app.test/magic?t=1\\">sign in</a></p>","text":"Hi"}'
