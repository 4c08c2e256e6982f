//! The upstream for `bench/longrun.sh`: a hyper 1 server that answers `200` to every POST, after
//! reading its whole body, and counts what it received.
//!
//! It counts every POST (`received`) and the distinct event ids among them (`unique`, from
//! hookgate's `X-Hookgate-Event-Id` header; a 64-bit hash of each id is kept, about 16 bytes an
//! event): delivery is at least once, so `received` may exceed `unique` after a redelivery.
//! `GET /count` answers both as text, one `name value` line each:
//!
//! ```text
//! received 120345
//! unique 120340
//! no_id 0
//! ```
//!
//! A single-threaded runtime (pin it to a core: it is meant to stay out of the measured server's
//! way). `TCP_NODELAY` on every connection, HTTP/1 keep-alive.
//!
//! ```sh
//! cargo run --release --example count_upstream -- 127.0.0.1:8090
//! ```

use std::collections::HashSet;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

#[derive(Default)]
struct Counts {
    received: AtomicU64,
    no_id: AtomicU64,
    ids: Mutex<HashSet<u64>>,
    hasher: RandomState,
}

async fn handle(
    counts: Arc<Counts>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::new()));
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/count") => {
            let unique = counts.ids.lock().map_or(0, |ids| ids.len());
            let text = format!(
                "received {}\nunique {unique}\nno_id {}\n",
                counts.received.load(Ordering::SeqCst),
                counts.no_id.load(Ordering::SeqCst),
            );
            *response.body_mut() = Full::new(Bytes::from(text));
        }
        (&Method::POST, _) => {
            let id = req
                .headers()
                .get("x-hookgate-event-id")
                .map(|v| counts.hasher.hash_one(v.as_bytes()));
            // Read the whole body before answering, as a real upstream does; a body that cannot
            // be read is not counted, and the 500 makes hookgate retry it.
            if req.into_body().collect().await.is_err() {
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return Ok(response);
            }
            match id {
                Some(id) => {
                    if let Ok(mut ids) = counts.ids.lock() {
                        ids.insert(id);
                    }
                }
                None => {
                    counts.no_id.fetch_add(1, Ordering::SeqCst);
                }
            }
            counts.received.fetch_add(1, Ordering::SeqCst);
        }
        _ => *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED,
    }
    Ok(response)
}

fn main() -> std::process::ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: count_upstream ADDR (e.g. 127.0.0.1:8090)");
        return std::process::ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&addr)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "count_upstream listening on http://{}",
        listener.local_addr()?
    );
    let counts = Arc::new(Counts::default());
    let builder = auto::Builder::new(TokioExecutor::new());
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let counts = Arc::clone(&counts);
        let service = service_fn(move |req| handle(Arc::clone(&counts), req));
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
