//! Shared test fixtures: a real server on 127.0.0.1:0, a recording handler, raw HTTP helpers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Event, Gateway, HandlerError, Pipeline, Router, Secret, Source};
use http::{HeaderName, HeaderValue, Request};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tower::Layer;

pub const SECRET: &str = "integration-secret-0123456789";
pub const OLD_SECRET: &str = "integration-old-secret-98765";

pub fn secret(text: &str) -> Secret {
    Secret::new(text.as_bytes().to_vec(), "test").unwrap()
}

/// A gateway serving on a real socket until dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    pub async fn start(gateway: Gateway<Incoming>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = hookgate::server::ServerConfig {
            header_read_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        tokio::spawn(hookgate::server::serve(listener, gateway, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A handler that records the events it sees, can fail on demand, and can be slow.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
    fail_next: Arc<AtomicUsize>,
    delay: Arc<Mutex<Duration>>,
}

impl Recorder {
    pub fn router(&self) -> Router {
        let this = self.clone();
        Router::new().on("*", move |event: Event| {
            let this = this.clone();
            async move {
                let delay = *this.delay.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                this.events.lock().unwrap().push(event);
                let failing = this
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    Err(HandlerError::failed("downstream is down"))
                } else {
                    Ok(())
                }
            }
        })
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
}

/// One mounted profile under test.
pub struct Mounted {
    pub profile: Profile,
    pub source: Source,
    pub path: String,
    pub recorder: Recorder,
}

/// A server with every seed profile mounted at /hooks/<profile>, secrets [SECRET, OLD_SECRET],
/// and a body cap of `max_body` bytes.
pub async fn seed_gateway(max_body: usize) -> (Server, Vec<Mounted>) {
    let mut gateway = Gateway::new();
    let mut mounted = Vec::new();
    for profile in Profile::SEEDS {
        let source = Source::from_profile(
            profile.name(),
            profile,
            &[secret(SECRET), secret(OLD_SECRET)],
        );
        let recorder = Recorder::default();
        let path = format!("/hooks/{}", profile.name());
        let svc = Pipeline::new(source.clone())
            .max_body_bytes(max_body)
            .layer(recorder.router());
        gateway = gateway.mount(path.clone(), svc);
        mounted.push(Mounted {
            profile,
            source,
            path,
            recorder,
        });
    }
    (Server::start(gateway).await, mounted)
}

/// A fresh sample body for `profile`: every call is a distinct event.
pub fn sample(profile: Profile) -> Bytes {
    // Distinct timestamps and ids per call, even within one millisecond.
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst) as u64;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + n);
    let value = profile.sample(None, at).unwrap();
    Bytes::from(serde_json::to_vec_pretty(&value).unwrap())
}

/// A request signed by `source` for `url`, with optional extra headers.
pub fn signed(source: &Source, url: &str, body: Bytes) -> Request<Full<Bytes>> {
    hookgate::send::signed_request(source, url, body).unwrap()
}

/// A request carrying exactly these headers.
pub fn request_with(
    url: &str,
    body: Bytes,
    headers: &[(HeaderName, HeaderValue)],
) -> Request<Full<Bytes>> {
    let mut builder = Request::post(url).header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(body)).unwrap()
}

/// The credential header `source` puts on `body`.
pub fn credential(source: &Source, body: &[u8]) -> (HeaderName, HeaderValue) {
    source.scheme().sign(body).unwrap()
}

pub async fn send(req: Request<Full<Bytes>>) -> hookgate::client::Reply {
    hookgate::client::post(req).await.unwrap()
}

pub fn json(reply: &hookgate::client::Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&reply.body)))
}

/// Write `head` (and whatever `then` writes) on a raw socket and return the status line's code,
/// without requiring the server to read what we did not send.
pub async fn raw_status(addr: SocketAddr, head: &str, body_part: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before reading all of it; a write error is fine here.
    let _ = stream.write_all(body_part).await;
    read_status(&mut stream).await
}

pub async fn read_status(stream: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    // Generous bound so a hung server fails the test instead of hanging it; not a speed check.
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no response from the server");
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    status.parse().unwrap()
}

/// `scheme`'s verdict, now, on a POST to `/` with `headers` and `body`: the index of the secret
/// that matched.
pub fn verify_now(
    scheme: &hookgate::auth::Scheme,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<usize, hookgate::Rejection> {
    let (mut head, ()) = http::Request::post("/").body(()).unwrap().into_parts();
    head.headers = headers.clone();
    scheme
        .verify(&head, body, std::time::SystemTime::now())
        .map(|v| v.key_index)
}
