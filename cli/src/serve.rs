//! `mirra serve`: the local emulator on the backends the environment chooses
//! (embedded by default, S3 + DynamoDB with `MIRRA_S3_BUCKET` and
//! `MIRRA_DYNAMODB_TABLE`). Glue only: build backends once, bind, run the
//! library's router through its serving loop (`shared::server::serve`: timeouts,
//! connection cap, request log) until Ctrl-C / SIGTERM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::api::{router, AppState};
use shared::config::{
    workspace_token, BackendChoice, Backends, ConfigError, EngineSettings, TokenSource,
};
use shared::dispatch::Dispatcher;
use shared::server::{serve, ServeConfig};
use shared::session::SystemClock;
use shared::traces::{TraceSettings, Traces};
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// The one workspace a local server hosts.
const LOCAL_WORKSPACE: &str = "local";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("traces: {0}")]
    Traces(String),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let started = Instant::now();
    let choice = BackendChoice::from_env()?;
    let (backends, mut notes) =
        Backends::open(&choice, &args.data_dir, args.create_resources).await?;
    if args.create_resources && choice == BackendChoice::Embedded {
        notes.push("--create-resources: nothing to create for the embedded backends".into());
    }
    // The token file lives in the data dir whichever backends run.
    std::fs::create_dir_all(&args.data_dir).map_err(|source| ConfigError::DataDir {
        path: args.data_dir.clone(),
        source,
    })?;
    let (token, source) = workspace_token(&args.data_dir, args.token.as_deref())?;
    let settings = EngineSettings {
        compact_every: args.compact_every,
        cache_bytes: args.cache_bytes.0,
        frozen_bytes: args.frozen_bytes.0,
        image_cache_bytes: args.image_cache_bytes.0,
    };
    let workspaces = backends.workspaces.clone();
    let (sessions, mirrors) = backends.sessions(Arc::new(SystemClock), settings);
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr()?;
    let public_url = if local.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", local.port())
    } else {
        format!("http://{local}")
    };
    // Every mirror request into the JSONL observer stream under the data dir,
    // and Redis Streams / PostgreSQL when MIRRA_REDIS_URL / MIRRA_DATABASE_URL
    // name them.
    let (setup, trace_notes) = TraceSettings::from_env()
        .and_then(|t| t.setup(Some(&args.data_dir)))
        .map_err(|e| ServeError::Traces(e.to_string()))?;
    notes.extend(trace_notes);
    let traces = Traces::start_with(setup, sessions.clone());
    let state = AppState::new(
        sessions.clone(),
        &token,
        LOCAL_WORKSPACE,
        &public_url,
        mirrors,
    )
    .with_workspace_table(workspaces)
    .with_traces(traces.clone());
    let reap_every = args.reap_interval.unwrap_or(match choice {
        BackendChoice::Embedded => 1,
        BackendChoice::Aws { .. } => 60,
    });
    let reaper = tokio::spawn(sessions.clone().run_reaper(Duration::from_secs(reap_every)));
    // Webhook deliveries and their retries, woken by the requests that owe them.
    let dispatcher = tokio::spawn(Arc::new(Dispatcher::new(sessions.clone())).run());
    // Before the first line: a client started when it appears finds the token
    // from any directory (see servers.rs).
    match crate::servers::record_started(&public_url, &token, &args.data_dir) {
        Ok(Some(path)) => notes.push(format!(
            "clients find this server's token in {}",
            crate::servers::shown(&path)
        )),
        Ok(None) => {}
        Err(e) => notes.push(format!(
            "warning: cannot record this server for clients: {e}"
        )),
    }

    println!(
        "mirra listening on {public_url} (data dir {}, ready in {} ms)",
        args.data_dir.display(),
        started.elapsed().as_millis()
    );
    let token_file = args.data_dir.join("token");
    match source {
        TokenSource::Generated => println!(
            "workspace token (saved to {}): {token}",
            token_file.display()
        ),
        TokenSource::File => println!("workspace token: in {}", token_file.display()),
        TokenSource::Given => println!("workspace token: from --token / MIRRA_TOKEN"),
    }

    // After the URL and token lines, which scripts and tests read first.
    println!("backends: {}", choice.describe(&args.data_dir));
    for note in &notes {
        println!("{note}");
    }

    let config = ServeConfig {
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: args
            .max_connections
            .map_or_else(shared::server::default_max_connections, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        log_requests: !args.quiet,
        mirror_names: state.mirrors.iter().map(|m| m.def.name()).collect(),
        ..ServeConfig::default()
    };
    let stop_with_stdin = args.stop_with_stdin;
    let stop = async move {
        tokio::select! {
            () = shutdown_signal() => {},
            () = stdin_closed(), if stop_with_stdin => {},
        }
    };
    let served = serve(listener, router(state), config, stop).await;
    // What the requests handed over is written before the process goes (a
    // sink that is down gets a few seconds to come back).
    if tokio::time::timeout(Duration::from_secs(5), traces.flush())
        .await
        .is_err()
    {
        eprintln!(
            "warning: a trace sink did not take every record before the server stopped (see GET /v1/health before stopping)"
        );
    }
    reaper.abort();
    dispatcher.abort();
    served?;
    println!("mirra stopped");
    Ok(())
}

/// Resolves when standard input reaches its end (or fails): the process that
/// started the server with `--stop-with-stdin` has closed it or died.
async fn stdin_closed() {
    // A plain thread: blocking reads need no runtime feature and cost nothing.
    let (done, closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = done.send(());
    });
    let _ = closed.await;
}

/// Resolves on Ctrl-C or SIGTERM. In-flight requests then finish before the
/// server returns; a write is acknowledged only after its log entry is durable,
/// so stopping never loses an acknowledged write.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
