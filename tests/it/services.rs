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

/// A private `redis-server` on its own port, for tests that stop and restart Redis without
/// disturbing the shared one. Killed on drop.
pub struct RedisProcess {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisProcess {
    /// Start one on a free port; None (with the reason printed, or a panic under CI) when
    /// `redis-server` is not installed.
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut this = Self { port, child: None };
        if !this.restart() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "redis-server is not installed, and CI=true");
            eprintln!("SKIPPED: redis-server is not installed");
            return None;
        }
        Some(this)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)start it on its port and wait until it accepts connections.
    pub fn restart(&mut self) -> bool {
        let Ok(child) = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
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
        panic!("redis-server did not start on port {}", self.port);
    }

    /// SIGKILL it: every connection drops, every key is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private `nats-server` with JetStream on its own port and store directory, for tests that
/// stop and restart NATS. Its streams persist across restarts (same store directory). Killed on
/// drop.
pub struct NatsProcess {
    pub port: u16,
    store: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl NatsProcess {
    /// Start one; None (with the reason printed, or a panic under CI) when `nats-server` is not
    /// installed.
    pub fn start(store: &std::path::Path) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut this = Self {
            port,
            store: store.to_path_buf(),
            child: None,
        };
        if !this.restart() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "nats-server is not installed, and CI=true");
            eprintln!("SKIPPED: nats-server is not installed");
            return None;
        }
        Some(this)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// (Re)start it and wait until it accepts connections.
    pub fn restart(&mut self) -> bool {
        let binary = ["nats-server", "/usr/sbin/nats-server"]
            .into_iter()
            .find(|b| {
                std::process::Command::new(b)
                    .arg("--version")
                    .output()
                    .is_ok()
            });
        let Some(binary) = binary else {
            return false;
        };
        let Ok(child) = std::process::Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
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
        panic!("nats-server did not start on port {}", self.port);
    }

    /// Stop it the way an operator would (SIGTERM, so JetStream flushes its store).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// SIGKILL it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
