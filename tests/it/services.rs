//! The real services some tests need (Redis, NATS on loopback). Under `CI=true` a missing
//! service fails the test loudly; elsewhere the test is skipped with the reason printed.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const REDIS: &str = "127.0.0.1:6379";
pub const NATS: &str = "127.0.0.1:4222";

/// Is `name` listening on `addr`? Panics under `CI=true` when it is not; otherwise prints why the
/// calling test is skipped and returns false.
pub fn available(name: &str, addr: &str) -> bool {
    let parsed: SocketAddr = addr.parse().unwrap();
    if TcpStream::connect_timeout(&parsed, Duration::from_secs(2)).is_ok() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{name} is not reachable at {addr}, and CI=true: start it (see .ci/run) instead of skipping"
    );
    eprintln!("SKIPPED: {name} is not reachable at {addr} (outside CI a missing service skips)");
    false
}

/// A private server process (`redis-server`, `nats-server`) on its own free port, for tests that
/// stop and restart a service without disturbing the shared one. Killed on drop.
pub struct ServerProcess {
    pub port: u16,
    scheme: &'static str,
    program: &'static str,
    args: Vec<std::ffi::OsString>,
    child: Option<std::process::Child>,
}

/// A private Redis: nothing on disk, so a restart forgets every key.
pub type RedisProcess = ServerProcess;
/// A private NATS with JetStream; its streams survive restarts (same store directory).
pub type NatsProcess = ServerProcess;

impl ServerProcess {
    /// Start `redis-server`; None (with the reason printed, or a panic under CI) when it is not
    /// installed.
    pub fn redis() -> Option<Self> {
        Self::start("redis", "redis-server", |port| {
            ["--port", &port.to_string(), "--bind", "127.0.0.1"]
                .into_iter()
                .chain(["--save", "", "--appendonly", "no"])
                .map(Into::into)
                .collect()
        })
    }

    /// Start `nats-server` with JetStream storing into `store`; None as for [`Self::redis`].
    pub fn nats(store: &std::path::Path) -> Option<Self> {
        let program = if std::path::Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server"
        } else {
            "nats-server"
        };
        Self::start("nats", program, |port| {
            let mut args: Vec<std::ffi::OsString> = ["-a", "127.0.0.1", "-p", &port.to_string()]
                .into_iter()
                .chain(["-js", "-sd"])
                .map(Into::into)
                .collect();
            args.push(store.into());
            args
        })
    }

    fn start(
        scheme: &'static str,
        program: &'static str,
        args: impl FnOnce(u16) -> Vec<std::ffi::OsString>,
    ) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut this = Self {
            port,
            scheme,
            program,
            args: args(port),
            child: None,
        };
        if !this.restart() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "{program} is not installed, and CI=true");
            eprintln!("SKIPPED: {program} is not installed");
            return None;
        }
        Some(this)
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// (Re)start it on its port and wait until it accepts connections; false when the program
    /// cannot be run.
    pub fn restart(&mut self) -> bool {
        let Ok(child) = std::process::Command::new(self.program)
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        for _ in 0..200 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{} did not start on port {}", self.program, self.port);
    }

    /// Stop it the way an operator would (SIGTERM: JetStream flushes its store).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// SIGKILL it: every connection drops at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
