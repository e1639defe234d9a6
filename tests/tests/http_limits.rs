//! How `mirra serve` treats slow, stalled and malformed clients: header, body and
//! idle timeouts, the connection cap, bodies over the limit, keep-alive after an
//! early rejection, JSON bodies on HTTP-layer rejections, and its request log.
//! Limits are set through the environment (`MIRRA_HEADER_TIMEOUT` …) with short
//! values so the tests stay fast; socket read timeouts only guard against hangs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use mirra_tests::{mirra_bin, Server, TOKEN};
use serde_json::Value;

/// Far longer than any limit a test sets: reaching it means the server held on.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn server(dir: &tempfile::TempDir, limits: &[(&str, &str)]) -> Server {
    let env: Vec<(String, String)> = limits
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Server::start_with(&dir.path().join("data"), &env)
}

fn connect(server: &Server) -> TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    s
}

/// True when the server closed the connection (EOF or reset) before the guard.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                )
            }
        }
    }
}

/// One HTTP/1.1 response off the wire: (status, lowercase head, body).
fn read_response(s: &mut TcpStream) -> std::io::Result<(u16, String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok((status, head, String::from_utf8_lossy(&body).into_owned()))
}

fn usage_request() -> String {
    format!("GET /v1/usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")
}

/// A client that sends half a request head is disconnected once the header timeout passes.
#[test]
fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(&dir, &[("MIRRA_HEADER_TIMEOUT", "1")]);
    let mut s = connect(&srv);
    s.write_all(b"GET /v1/usage HTTP/1.1\r\nHost: x\r\n")
        .expect("half a head");
    assert!(
        closed_by_server(&mut s),
        "the server kept a half-sent head open"
    );
}

/// A body shorter than its Content-Length gets a 408 once the body timeout passes.
#[test]
fn a_body_shorter_than_its_content_length_gets_408_after_the_body_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(&dir, &[("MIRRA_BODY_TIMEOUT", "1")]);
    let mut s = connect(&srv);
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"mirrors\""
    );
    s.write_all(head.as_bytes())
        .expect("head and a bit of body");
    let (status, head, body) = read_response(&mut s).expect("an answer, not a hang");
    assert_eq!(status, 408, "{head}{body}");
    assert!(head.contains("connection: close"), "{head}");
    let v: Value = serde_json::from_str(&body).expect("JSON error body");
    assert!(v["error"]["message"].is_string(), "{body}");
}

/// A kept-alive connection that sends nothing after its response is closed after the idle timeout.
#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(
        &dir,
        &[("MIRRA_IDLE_TIMEOUT", "1"), ("MIRRA_HEADER_TIMEOUT", "60")],
    );
    let mut s = connect(&srv);
    s.write_all(usage_request().as_bytes()).expect("request");
    let (status, _, _) = read_response(&mut s).expect("response");
    assert_eq!(status, 200);
    assert!(
        closed_by_server(&mut s),
        "the server kept an idle connection open"
    );
}

/// A Content-Length above the 1 MiB body limit is a 413 before any body byte is sent.
#[test]
fn a_content_length_over_the_body_limit_is_refused_before_the_body_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(&dir, &[]);
    let mut s = connect(&srv);
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        5 << 20
    );
    s.write_all(head.as_bytes()).expect("head only");
    let (status, head, body) = read_response(&mut s).expect("an answer before the body");
    assert_eq!(status, 413, "{head}{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON error body");
    assert_eq!(v["error"]["type"], "invalid_request", "{body}");
}

/// At the connection cap, connections that send nothing are closed so a new client is served.
#[test]
fn at_the_connection_cap_stalled_connections_make_room_for_a_new_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(
        &dir,
        &[
            ("MIRRA_MAX_CONNECTIONS", "2"),
            ("MIRRA_HEADER_TIMEOUT", "60"),
            ("MIRRA_IDLE_TIMEOUT", "60"),
        ],
    );
    let mut stalled: Vec<TcpStream> = (0..2).map(|_| connect(&srv)).collect();
    stalled[0]
        .write_all(b"GET /v1/usage HTTP/1.1\r\n")
        .expect("half a head");
    let (status, _) = srv.api(reqwest::Method::GET, "/v1/usage", None);
    assert_eq!(status, 200, "the new client was not served");
    assert!(
        stalled.iter_mut().any(closed_by_server),
        "no stalled connection gave way (header timeout is 60 s here)"
    );
}

/// An early 401 or 404 on a POST with a large body leaves the kept-alive connection usable.
#[test]
fn a_keep_alive_connection_survives_an_early_rejection_of_a_large_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(&dir, &[]);
    let mut s = connect(&srv);
    let body = "x".repeat(200_000);
    for (path, auth, want) in [
        ("/v1/sessions", "", 401),
        ("/no/such/route", "Authorization: Bearer e2e-token\r\n", 404),
    ] {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("the whole request");
        let (status, head, _) = read_response(&mut s).expect("the early answer");
        assert_eq!(status, want, "{path}: {head}");
    }
    s.write_all(usage_request().as_bytes())
        .expect("a third request on the same connection");
    let (status, head, _) = read_response(&mut s).expect("the connection still serves");
    assert_eq!(status, 200, "{head}");
}

/// hyper's own 400, 414 and 431 answers carry the plane's JSON error body.
#[test]
fn http_layer_rejections_carry_the_json_error_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(&dir, &[]);
    let cases: [(Vec<u8>, u16); 3] = [
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
            400,
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            414,
        ),
        // Too many headers rather than one huge one: hyper then has read the whole
        // head when it answers, so closing never resets the answer away.
        (
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            431,
        ),
    ];
    for (req, want) in cases {
        let mut s = connect(&srv);
        s.write_all(&req).expect("request");
        let (status, head, body) = read_response(&mut s).expect("an answer");
        assert_eq!(status, want, "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(v["error"]["type"], "invalid_request", "{want}: {body:?}");
        assert!(v["error"]["message"].is_string(), "{want}: {body:?}");
    }
}

/// Runs `mirra serve` with stderr captured, sends two requests, stops it and
/// returns what it logged.
fn stderr_of_serve(dir: &std::path::Path, extra_env: &[(&str, &str)]) -> String {
    let mut child = Command::new(mirra_bin())
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir)
        .env("MIRRA_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mirra serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    // Keep reading stdout: a closed pipe would fail the server's next print.
    std::thread::spawn(move || lines.for_each(drop));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    let http = mirra_tests::http_client();
    let usage = http
        .get(format!("{url}/v1/usage"))
        .bearer_auth(TOKEN)
        .send()
        .expect("usage");
    assert_eq!(usage.status().as_u16(), 200);
    http.get(format!("{url}/m/ses_zz99/stripe/v1/customers"))
        .send()
        .expect("mirror request");
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    err
}

/// `mirra serve` logs one uncoloured line per request (method, path, status,
/// session), and `--quiet` turns those lines off.
#[test]
fn request_lines_are_logged_without_colour_and_quiet_turns_them_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = stderr_of_serve(&dir.path().join("a"), &[]);
    assert!(!log.contains('\u{1b}'), "ANSI codes in a piped log:\n{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("GET /v1/usage 200") && l.contains(" ms")),
        "no request line for GET /v1/usage:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("GET /m/ses_zz99/stripe/v1/customers")
                && l.contains("session=ses_zz99")),
        "no request line naming the session:\n{log}"
    );
    let quiet = stderr_of_serve(&dir.path().join("b"), &[("MIRRA_QUIET", "true")]);
    assert!(
        !quiet.contains("GET /v1/usage"),
        "--quiet still logged requests:\n{quiet}"
    );
}
