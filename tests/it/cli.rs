//! The `hookgate` binary: `check`, `serve` (embedded default and the README's example), `send`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `command` to its end: its exit code and all it printed (stdout, then stderr).
pub(crate) fn finished(command: &mut Command) -> (Option<i32>, String) {
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn check(config: &Path, envs: &[(&str, &str)]) -> (bool, String) {
    let (code, text) = finished(
        Command::new(BIN)
            .args(["check", "--config"])
            .arg(config)
            .envs(envs.iter().copied()),
    );
    (code == Some(0), text)
}

#[test]
fn check_names_every_problem() {
    let dir = temp_dir("check");
    let short = dir.join("short");
    std::fs::write(&short, "too-short").unwrap();
    let good = dir.join("good");
    std::fs::write(&good, "a-long-enough-secret-0123").unwrap();
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [server]
            listen = "127.0.0.1:0"
            colour = "blue"

            [[source]]
            name = "missing"
            profile = "homa"
            secrets = ["env:HOOKGATE_CLI_TEST_UNSET"]

            [[source]]
            name = "short"
            profile = "webnet"
            secrets = ["file:{}"]

            [[source]]
            name = "unknown"
            profile = "zapier"
            secrets = ["file:{}"]
            "#,
            short.display(),
            good.display()
        ),
    )
    .unwrap();
    // One run lists every problem: the unknown key, the missing and the short secret, the
    // unknown profile.
    let (ok, text) = check(&config, &[]);
    assert!(!ok, "{text}");
    assert!(text.contains("4 problems"), "{text}");
    assert!(text.contains("unknown key `server.colour`"), "{text}");
    assert!(
        text.contains("HOOKGATE_CLI_TEST_UNSET") && text.contains("not set"),
        "{text}"
    );
    assert!(text.contains("9 bytes long; at least 16"), "{text}");
    assert!(text.contains("unknown profile \"zapier\""), "{text}");
    assert!(
        !text.contains("too-short"),
        "a secret's value must never be printed: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_accepts_the_readme_example() {
    let dir = temp_dir("readme-check");
    let config = dir.join("hookgate.toml");
    std::fs::write(&config, readme_config()).unwrap();
    let envs = [
        ("NINJA_SECRET", "readme-secret-0123456789"),
        ("NINJA_SECRET_OLD", "readme-old-secret-0123456789"),
    ];
    let (ok, text) = check(&config, &envs);
    assert!(ok, "{text}");
    assert!(
        text.contains("ninja (ninjaone) at /hooks/ninja with 2 secret(s)"),
        "{text}"
    );
    let (ok, text) = check(&config, &envs[..1]);
    assert!(!ok && text.contains("NINJA_SECRET_OLD"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The TOML example in README.md, so the documented configuration stays runnable.
fn readme_config() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("<!-- example-config:start -->").unwrap();
    let end = readme.find("<!-- example-config:end -->").unwrap();
    let block = &readme[start..end];
    let body = block.split("```toml").nth(1).unwrap();
    body.split("```").next().unwrap().to_owned()
}

/// A running `hookgate serve`, killed on drop.
pub(crate) struct Serve {
    child: Child,
    pub(crate) addr: String,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stderr_lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Serve {
    pub(crate) fn start(args: &[&str], dir: &Path, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("hookgate listening on http://") {
                        break addr.to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("hookgate serve did not start: {seen:#?}");
                }
            }
        };
        let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(seen));
        {
            let stderr_lines = std::sync::Arc::clone(&stderr_lines);
            std::thread::spawn(move || {
                while let Ok(line) = rx.recv() {
                    stderr_lines.lock().unwrap().push(line);
                }
            });
        }
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            let lines = std::sync::Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Self {
            child,
            addr,
            lines,
            stderr_lines,
        }
    }

    /// Every line written on standard error so far.
    pub(crate) fn stderr_lines(&self) -> Vec<String> {
        self.stderr_lines.lock().unwrap().clone()
    }

    /// Wait (bounded) until the server printed `n` lines on standard output; returns them all.
    pub(crate) fn stdout_lines(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.lines.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.lines.lock().unwrap().clone()
    }

    /// Wait (bounded) for a line on standard error starting with `prefix`; returns the rest.
    pub(crate) fn stderr_after(&self, prefix: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self
                .stderr_lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return line.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {prefix:?} on standard error: {:#?}",
                self.stderr_lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait (bounded) until the server printed `n` lines on standard output, stop it, and
    /// return them. Events are printed by delivery, after their 202.
    fn stop_after_lines(mut self, n: usize) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.lines.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.lock().unwrap().join("\n")
    }
}

impl Serve {
    /// SIGKILL: no shutdown, no flushing, nothing.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let (code, text) = finished(
        Command::new(BIN)
            .arg("send")
            .args(args)
            .envs(envs.iter().copied()),
    );
    (code == Some(0), text)
}

#[test]
fn embedded_default_accepts_every_seed_sender() {
    let dir = temp_dir("embedded");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let server = Serve::start(
        &["--listen", "127.0.0.1:0", "--data-dir", data_arg],
        &dir,
        &[],
    );
    let secret = std::fs::read_to_string(data.join("secret")).unwrap();
    assert_eq!(secret.trim().len(), 64, "a 32-byte random secret, in hex");

    let profiles = ["ninjaone", "ninjarmm", "webnet", "homa", "opscenter"];
    for profile in profiles {
        let url = format!("http://{}/hooks/{profile}", server.addr);
        let (ok, text) = send(&[profile, "--url", &url, "--data-dir", data_arg], &[]);
        assert!(ok, "{profile}: {text}");
        assert!(text.contains("<- 202"), "{profile}: {text}");
    }
    // A forged request is refused by the same server.
    let url = format!("http://{}/hooks/homa", server.addr);
    let (ok, text) = send(
        &["homa", "--url", &url, "--secret", "env:HOOKGATE_FORGED"],
        &[("HOOKGATE_FORGED", "forged-secret-0123456789")],
    );
    assert!(!ok && text.contains("<- 401"), "{text}");

    let out = server.stop_after_lines(profiles.len());
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    assert_eq!(lines.len(), profiles.len(), "{out}");
    // Delivery order is not promised: compare as sets.
    let mut sources: Vec<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    sources.sort_unstable();
    let mut expected = profiles.to_vec();
    expected.sort_unstable();
    assert_eq!(sources, expected);
    assert!(lines.iter().all(|l| l["event"].is_object()));

    // The secret survives a restart: generated once.
    let server = Serve::start(
        &["--listen", "127.0.0.1:0", "--data-dir", data_arg],
        &dir,
        &[],
    );
    assert_eq!(
        std::fs::read_to_string(data.join("secret")).unwrap(),
        secret
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readme_example_serves_and_sends() {
    let dir = temp_dir("readme-serve");
    let config = dir.join("hookgate.toml");
    std::fs::write(
        &config,
        readme_config().replace("127.0.0.1:8080", "127.0.0.1:0"),
    )
    .unwrap();
    let envs = [
        ("NINJA_SECRET", "readme-secret-0123456789"),
        ("NINJA_SECRET_OLD", "readme-old-secret-0123456789"),
    ];
    let config_arg = config.to_str().unwrap();
    let server = Serve::start(&["--config", config_arg], &dir, &envs);
    let url = format!("http://{}/hooks/ninja", server.addr);
    let base = ["--config", config_arg, "--source", "ninja", "--url", &url];
    let (ok, text) = send(&base, &envs);
    assert!(ok && text.contains("<- 202"), "{text}");
    // A DEVICE_OFFLINE event routes too; TICKET_CREATED matches no route but is acknowledged.
    for event in ["DEVICE_OFFLINE", "TICKET_CREATED"] {
        let mut args = base.to_vec();
        args.extend(["--event", event]);
        let (ok, text) = send(&args, &envs);
        assert!(ok && text.contains("<- 202"), "{event}: {text}");
    }
    let out = server.stop_after_lines(2);
    let mut types: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
        .collect();
    types.sort_unstable(); // delivery order is not promised
    assert_eq!(
        types,
        ["\"ALERT_TRIGGERED\"", "\"DEVICE_OFFLINE\""],
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's walk-through: each `send` line that says what it answers, as
/// `(arguments, status code, "status" of the answer)`.
fn readme_walk_through() -> Vec<(Vec<String>, String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("<!-- walk-through:start -->").unwrap();
    let end = readme.find("<!-- walk-through:end -->").unwrap();
    readme[start..end]
        .lines()
        .filter_map(|line| {
            let (command, expected) = line.split_once("# -> ")?;
            let args = command.split_once("cargo run --release -- ")?.1;
            let (code, answer) = expected.split_once(' ')?;
            let answer: &str = answer.split_once(r#""status":""#)?.1.split('"').next()?;
            Some((
                args.split_whitespace().map(str::to_owned).collect(),
                code.to_owned(),
                answer.to_owned(),
            ))
        })
        .collect()
}

#[test]
fn the_readme_walk_through_answers_what_it_says() {
    // As written: `serve` on the embedded default, then each `send` from the same directory (the
    // default data directory holds the secret). Only the port differs: 8080 may be taken.
    let steps = readme_walk_through();
    let sends = |args: &[&str]| steps.iter().filter(|(a, _, _)| a == args).count();
    assert_eq!(sends(&["send", "ninjaone"]), 2, "{steps:?}");
    assert_eq!(sends(&["send", "ninjaone", "--now"]), 1, "{steps:?}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(r#"the second answer is `200 {"status":"duplicate"}`"#),
        "the sentence the walk-through proves"
    );

    let dir = temp_dir("walk-through");
    let server = Serve::start(&["--listen", "127.0.0.1:0"], &dir, &[]);
    let url = format!("http://{}/hooks/ninjaone", server.addr);
    for (args, code, answer) in &steps {
        let (exit, text) = finished(
            Command::new(BIN)
                .args(args)
                .args(["--url", &url])
                .current_dir(&dir),
        );
        assert_eq!(exit, Some(0), "{args:?}: {text}");
        let expected = format!(r#"<- {code} {{"status":"{answer}""#);
        assert!(text.contains(&expected), "{args:?}: {expected} in {text}");
        if answer == "duplicate" {
            assert!(text.contains("--now sends a new one"), "{text}");
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_refuses_to_start_with_a_missing_secret() {
    let dir = temp_dir("refuse");
    let config = dir.join("hookgate.toml");
    std::fs::write(&config, readme_config()).unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("NINJA_SECRET")
        .env_remove("NINJA_SECRET_OLD")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("env:NINJA_SECRET") && text.contains("refuses to start"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn send_can_send_every_documented_event_and_each_is_accepted() {
    let dir = temp_dir("send-all");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let server = Serve::start(
        &["--listen", "127.0.0.1:0", "--data-dir", data_arg],
        &dir,
        &[],
    );
    let mut sent = 0;
    for profile in hookgate::profile::Profile::SEEDS {
        let url = format!("http://{}/hooks/{}", server.addr, profile.name());
        for event in profile.sample_events() {
            let (ok, text) = send(
                &[
                    profile.name(),
                    "--event",
                    &event,
                    "--url",
                    &url,
                    "--data-dir",
                    data_arg,
                ],
                &[],
            );
            assert!(
                ok && text.contains("<- 202"),
                "{} {event}: {text}",
                profile.name()
            );
            sent += 1;
        }
    }
    assert!(sent >= 18 + 13 + 5 + 30 + 6, "{sent}");
    let (ok, text) = send(&["--list"], &[]);
    assert!(ok && text.contains("ticket.status_changed"), "{text}");

    // --all: every example of every spec, each one a new event (none taken for a replay).
    for profile in hookgate::profile::Profile::SEEDS {
        let url = format!("http://{}/hooks/{}", server.addr, profile.name());
        let examples = profile.examples().len();
        let (ok, text) = send(
            &[
                profile.name(),
                "--all",
                "--url",
                &url,
                "--data-dir",
                data_arg,
            ],
            &[],
        );
        assert!(ok, "{}: {text}", profile.name());
        assert!(
            text.contains(&format!("{examples} of {examples} accepted")),
            "{}: {text}",
            profile.name()
        );
        assert_eq!(text.matches("202 ").count(), examples, "{text}");
    }
    // Sent with the wrong secret, every one fails, and the exit code says so.
    let url = format!("http://{}/hooks/homa", server.addr);
    let (ok, text) = send(
        &[
            "homa",
            "--all",
            "--url",
            &url,
            "--secret",
            "env:HOOKGATE_FORGED",
        ],
        &[("HOOKGATE_FORGED", "forged-secret-0123456789")],
    );
    assert!(
        !ok && text.contains("401 ") && text.contains("\n0 of "),
        "{text}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_into_a_closed_pipe_does_not_panic() {
    let mut child = Command::new(BIN)
        .args(["send", "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the command writes.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
