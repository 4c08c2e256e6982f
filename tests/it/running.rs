//! A real `hookgate serve` set up for one test, and what tests do with it: a fresh directory, the
//! sender's secret in a file, the configuration written with its paths filled in, the admin
//! listener's address, and waiting for deliveries.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use hookgate::profile::Profile;
use hookgate::{Secret, Source};
use http::StatusCode;
use http_body_util::Full;

use crate::cli::Serve;
use crate::delivery::Upstream;

/// A gateway process on its own directory, stopped and cleaned up when dropped.
pub(crate) struct Running {
    pub(crate) dir: PathBuf,
    server: Option<Serve>,
}

impl Running {
    /// Start `hookgate serve --config` on `config`, a TOML text in which `{data}` and `{secret}`
    /// stand for the data directory and a file holding `secret`, with `envs` set.
    pub(crate) fn start(tag: &str, secret: &str, config: &str, envs: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("hookgate-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), secret).unwrap();
        let config = config
            .replace("{data}", &dir.join("data").display().to_string())
            .replace("{secret}", &dir.join("secret").display().to_string());
        let path = dir.join("hookgate.toml");
        std::fs::write(&path, config).unwrap();
        let server = Serve::start(&["--config", path.to_str().unwrap()], &dir, envs);
        Self {
            dir,
            server: Some(server),
        }
    }

    /// Stop the process (SIGKILL) and start it again on the same directory and configuration.
    pub(crate) fn restart(&mut self, envs: &[(&str, &str)]) {
        drop(self.server.take());
        let path = self.dir.join("hookgate.toml");
        self.server = Some(Serve::start(
            &["--config", path.to_str().unwrap()],
            &self.dir,
            envs,
        ));
    }

    /// The process.
    pub(crate) fn server(&self) -> &Serve {
        self.server.as_ref().unwrap()
    }

    /// `http://<webhook listener><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server().addr)
    }

    /// `http://<admin listener>`, as the start-up banner names it.
    pub(crate) fn admin(&self) -> String {
        let line = self.server().stderr_after("admin API on http://");
        format!("http://{}", line.split(' ').next().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Homa source signing with `secret`.
pub(crate) fn homa(secret: &str) -> Source {
    Source::from_profile(
        "homa",
        Profile::Homa,
        &[Secret::new(secret.as_bytes().to_vec(), "t").unwrap()],
    )
}

/// A Homa source signing with a secret the gateway does not know: a forger.
pub(crate) fn forger() -> Source {
    homa("not-the-sender-secret-0123456789")
}

/// POST `body` to `url`, signed as `source` signs: the reply.
pub(crate) async fn post_signed(
    source: &Source,
    url: &str,
    body: Bytes,
) -> hookgate::client::Reply {
    let request = hookgate::send::signed_request(source, url, body).unwrap();
    hookgate::client::post(request).await.unwrap()
}

/// A request with no body to the admin API, with the bearer `token` if given: status and body.
pub(crate) async fn admin_call(
    method: &str,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let reply = hookgate::client::post(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}

/// Wait (at most `limit`) until `upstream` has every ticket in `acknowledged` (Homa events,
/// numbered by `data.ticket_id`); returns the tickets it has.
pub(crate) async fn delivered_tickets(
    upstream: &Upstream,
    acknowledged: &HashSet<usize>,
    limit: Duration,
) -> HashSet<usize> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let delivered: HashSet<usize> = upstream
            .received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, _, body)| {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                usize::try_from(v["data"]["ticket_id"].as_u64()?).ok()
            })
            .collect();
        if acknowledged.is_subset(&delivered) || tokio::time::Instant::now() > deadline {
            return delivered;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The configuration most tests start from: a loopback listener on the data directory, an admin
/// listener reading its token from `token_env` if given, and one Homa source on the secret file;
/// `rest` follows the source's table (more of its keys, then other tables). For
/// [`Running::start`].
pub(crate) fn homa_config(token_env: Option<&str>, rest: &str) -> String {
    let admin = token_env.map_or(String::new(), |env| {
        format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"env:{env}\"\n")
    });
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{{data}}\"\n{admin}\
         [[source]]\nname = \"homa\"\nprofile = \"homa\"\nsecrets = [\"file:{{secret}}\"]\n{rest}\n"
    )
}
