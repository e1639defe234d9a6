//! A webhook receiver on loopback for end-to-end tests: records every request
//! (headers and body) and answers with the statuses it was told to, in order,
//! then 200. Plain std networking, one thread per connection.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Listens on `127.0.0.1:port` (0: any); answers `statuses` first, then 200.
    pub fn start_on(port: u16, statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (g, a) = (got.clone(), answers);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (g, a) = (g.clone(), a.clone());
                std::thread::spawn(move || serve(stream, &g, &a));
            }
        });
        Receiver { url, got }
    }

    pub fn start(statuses: &[u16]) -> Receiver {
        Receiver::start_on(0, statuses)
    }

    /// Waits until `n` requests arrived (or `timeout`), returns all so far.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.got.lock().expect("lock").clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, got: &Mutex<Vec<Received>>, answers: &Mutex<VecDeque<u16>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    got.lock().expect("lock").push(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = answers.lock().expect("lock").pop_front().unwrap_or(200);
    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    let mut stream = stream;
    let _ = stream.write_all(reply.as_bytes());
}
