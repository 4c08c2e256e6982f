//! Issue 4: `hookgate gen` produces crates that build without warnings, are rustfmt-clean, and
//! pass their own test, which sends every example of the spec through the generated receiver.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hookgate::codegen::{self as hookgate_codegen, Options};
use hookgate::profile::Profile;

const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every spec in spec/ with its profile, and the generator's own test specs.
const SPECS: &[(&str, &str, &str)] = &[
    ("ninjaone", "spec/ninjaone.yaml", "ninjaone"),
    ("ninjarmm", "spec/ninjarmm/webhook.yaml", "ninjarmm"),
    ("webnet", "spec/webnet.yaml", "webnet"),
    ("homa", "spec/homa.yaml", "homa"),
    ("opscenter", "spec/opscenter.yaml", "opscenter"),
    ("paths30", "tests/specs/paths30.yaml", "generic"),
    ("xwebhooks30", "tests/specs/xwebhooks30.yaml", "generic"),
    ("webhooks31", "tests/specs/webhooks31.yaml", "generic"),
    ("composition30", "tests/specs/composition30.yaml", "generic"),
];

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn generate(spec: &Path, out: &Path, profile: &str, force: bool) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["gen", "--spec"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .args(["--profile", profile, "--hookgate-path"])
        .arg(manifest_dir());
    if force {
        command.arg("--force");
    }
    run(&mut command)
}

/// `cargo <args>` in the generated workspace: offline, warnings are errors, one target directory
/// for every generated crate (and kept between local runs).
fn cargo(workspace: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(workspace)
        .env(
            "CARGO_TARGET_DIR",
            manifest_dir().join("target/gen-test-target"),
        )
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_MAKEFLAGS"))
}

fn replace_once(path: &Path, after: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in {}", path.display()));
    let at = start + text[start..].find(from).unwrap();
    let edited = format!("{}{to}{}", &text[..at], &text[at + from.len()..]);
    std::fs::write(path, edited).unwrap();
}

#[test]
fn generated_crates_build_and_pass_their_tests() {
    let workspace = manifest_dir().join("target/gen-test");
    let _ = std::fs::remove_dir_all(&workspace);
    std::fs::create_dir_all(&workspace).unwrap();
    for (name, spec, profile) in SPECS {
        let output = generate(
            &manifest_dir().join(spec),
            &workspace.join(name),
            profile,
            false,
        );
        ok(&output, &format!("hookgate gen {spec}"));
    }
    let members: Vec<String> = SPECS.iter().map(|(n, _, _)| format!("{n:?}")).collect();
    std::fs::write(
        workspace.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .unwrap();
    // The same dependency versions as hookgate itself: no resolution, no network.
    std::fs::copy(
        manifest_dir().join("Cargo.lock"),
        workspace.join("Cargo.lock"),
    )
    .unwrap();

    ok(
        &cargo(&workspace, &["build", "--workspace", "--all-targets"]),
        "cargo build of the generated crates",
    );
    ok(
        &cargo(&workspace, &["test", "--workspace"]),
        "cargo test of the generated crates",
    );

    // rustfmt-clean, every generated Rust file.
    for (name, _, _) in SPECS {
        for file in [
            "src/lib.rs",
            "src/main.rs",
            "src/models.rs",
            "src/events.rs",
            "src/handlers.rs",
            "tests/examples.rs",
        ] {
            let output = run(Command::new("rustfmt")
                .args(["--edition", "2024", "--check"])
                .arg(workspace.join(name).join(file)));
            ok(&output, &format!("rustfmt --check {name}/{file}"));
        }
    }

    // Implement one handler: that event now gets 202, which the unchanged test notices.
    let crate_dir = workspace.join("ninjaone");
    let handlers = crate_dir.join("src/handlers.rs");
    replace_once(
        &handlers,
        "pub async fn alert_triggered",
        "Err(HandlerError::NotImplemented)",
        "Ok(())",
    );
    let output = cargo(&workspace, &["test", "-p", "ninjaone"]);
    assert!(
        !output.status.success(),
        "ALERT_TRIGGERED must no longer get 501"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ALERT_TRIGGERED"));
    let examples = crate_dir.join("tests/examples.rs");
    replace_once(
        &examples,
        "match event_type",
        "_ => 501,",
        "\"ALERT_TRIGGERED\" => 202,\n        _ => 501,",
    );
    ok(
        &cargo(&workspace, &["test", "-p", "ninjaone"]),
        "test after implementing ALERT_TRIGGERED",
    );

    // Regenerating keeps the user's files, and says so; --force replaces them.
    let edited = std::fs::read_to_string(&handlers).unwrap();
    let output = generate(
        &manifest_dir().join("spec/ninjaone.yaml"),
        &crate_dir,
        "ninjaone",
        false,
    );
    ok(&output, "regenerate");
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept"));
    assert_eq!(std::fs::read_to_string(&handlers).unwrap(), edited);
    let output = generate(
        &manifest_dir().join("spec/ninjaone.yaml"),
        &crate_dir,
        "ninjaone",
        true,
    );
    ok(&output, "regenerate --force");
    assert_ne!(std::fs::read_to_string(&handlers).unwrap(), edited);
}

#[test]
fn a_malformed_spec_names_file_pointer_and_problem_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("hookgate-gen-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "missing-ref.yaml",
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-webhooks:\n  a.b:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Nope'}\n",
            "/x-webhooks/a.b/post/requestBody/content/application~1json/schema/$ref",
            "points to nothing",
        ),
        (
            "swagger.yaml",
            "swagger: '2.0'\n",
            "/openapi",
            "unsupported OpenAPI version",
        ),
        (
            "no-body.yaml",
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nwebhooks:\n  ping:\n    post: {}\n",
            "/webhooks/ping/post",
            "no requestBody",
        ),
    ];
    for (file, text, pointer, problem) in cases {
        let spec = dir.join(file);
        std::fs::write(&spec, text).unwrap();
        let out = dir.join(format!("out-{file}"));
        let output = generate(&spec, &out, "generic", false);
        assert!(!output.status.success(), "{file}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&spec.display().to_string()),
            "{file}: {stderr}"
        );
        assert!(stderr.contains(pointer), "{file}: {stderr}");
        assert!(stderr.contains(problem), "{file}: {stderr}");
        assert!(!out.exists(), "{file}: something was written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_files_of_the_composition_spec_are_pinned() {
    let mut options = Options::new(Profile::Generic);
    options.hookgate_dep = "path = \"../hookgate\"".into();
    let files = hookgate_codegen::generate(
        &manifest_dir().join("tests/specs/composition30.yaml"),
        Path::new("pets"),
        &options,
    )
    .unwrap();
    for file in &files {
        let name = file.path.display().to_string();
        if name.ends_with(".rs") || name == "Cargo.toml" {
            insta::assert_snapshot!(name.replace(['/', '.'], "_"), file.contents);
        }
    }
}

#[test]
fn built_in_sender_modules_match_their_specs() {
    for (name, spec, profile) in &SPECS[..5] {
        let module = format!("src/senders/{name}.rs");
        let expected = hookgate_codegen::generate_module(
            Path::new(spec),
            Profile::from_name(profile).unwrap(),
            "crate",
            &module,
        )
        .unwrap();
        let actual = std::fs::read_to_string(manifest_dir().join(&module)).unwrap();
        assert!(
            actual == expected,
            "{module} no longer matches {spec}; regenerate it with\n  cargo run -- gen --spec {spec} \
             --profile {profile} --module {module} --hookgate-crate crate"
        );
    }
}
