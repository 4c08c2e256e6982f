//! Issue 19: `hookgate serve` as a library function, driven in-process: prepare a configuration,
//! bind port 0, run with a shutdown future, take a signed event over real HTTP, see it delivered
//! through the admin API, shut down, and reopen the spool the gateway held.

use std::time::Duration;

use bytes::Bytes;
use hookgate::config::Config;
use hookgate::spool::Spool;
use http::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::running::{admin_call, homa};

const SECRET: &str = "serve-test-sender-secret-0123456789";
const TOKEN: &str = "serve-test-admin-token-abcdefghijk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_in_process_delivers_and_stops_on_its_shutdown_future() {
    let dir = std::env::temp_dir().join(format!("hookgate-it-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
data_dir = "{data}"
[admin]
listen = "127.0.0.1:0"
token = "file:{token}"
[[source]]
name = "homa"
profile = "homa"
secrets = ["file:{secret}"]
[[route]]
to = "log"
"#,
        data = dir.join("data").display(),
        token = dir.join("token").display(),
        secret = dir.join("secret").display(),
    );
    let config = Config::from_toml(&text, "serve test").unwrap();

    let prepared = hookgate::serve::prepare(&config, "serve test").unwrap();
    assert_eq!(prepared.spool_path(), Some(config.spool_path().as_path()));
    assert_eq!(prepared.mounts().len(), 1);
    let listeners = prepared.bind().await.unwrap();
    let addr = listeners.public.local_addr().unwrap();
    let admin = format!(
        "http://{}",
        listeners.admin.as_ref().unwrap().local_addr().unwrap()
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(prepared.run(listeners, async {
        let _ = stopped.await;
    }));

    // A genuine event: stored, then answered 202.
    let body = Bytes::from_static(
        br#"{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":19,"title":"lean core"}}"#,
    );
    let request =
        hookgate::send::signed_request(&homa(SECRET), &format!("http://{addr}/hooks/homa"), body)
            .unwrap();
    let reply = hookgate::client::post(request).await.unwrap();
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    // The deliverer runs beside the server: the admin API shows the event delivered to `log`.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = admin_call("GET", &format!("{admin}/events"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let listed: Value = serde_json::from_str(&text).unwrap();
        let events = listed["events"].as_array().unwrap();
        if events.len() == 1 && events[0]["status"] == "delivered" {
            assert_eq!(events[0]["type"], "ticket.created");
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {listed}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Shutdown reaches the server, the deliverer, the admin API and the retention loop.
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("run did not return within 5 s of the shutdown");
    finished.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the webhook listener is still open"
    );

    // Nothing holds the spool any more: it opens again, with the event in it.
    let spool = Spool::open(&config.spool_path()).expect("the spool reopens after run returns");
    assert_eq!(spool.events().count(), 1);
    assert_eq!(spool.pending_len(), 0);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}
