//! The embedded default: what `hookgate serve` runs with no configuration (every seed profile at
//! `/hooks/<profile>`, one secret generated once into the data directory, events printed as JSON
//! lines).

use super::*;

/// The secret file of the embedded default inside `data_dir`.
pub fn default_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret")
}

/// Read the embedded default's secret, creating it (32 random bytes, hex) on first use.
pub fn ensure_default_secret(data_dir: &Path) -> std::io::Result<(PathBuf, String)> {
    let path = default_secret_path(data_dir);
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        write_private(&path, hex::encode(bytes).as_bytes())?;
    }
    let text = std::fs::read_to_string(&path)?;
    Ok((path, text.trim_end().to_owned()))
}

#[cfg(unix)]
pub(super) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
pub(super) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The configuration `hookgate serve` runs without a file: every seed profile mounted at
/// `/hooks/<profile>` with the data directory's secret, every event logged as a JSON line.
pub fn embedded_config(data_dir: &Path, listen: Option<&str>) -> std::io::Result<(Config, String)> {
    let (secret_path, secret) = ensure_default_secret(data_dir)?;
    let secret_path = std::path::absolute(&secret_path)?;
    let mut config = Config::default();
    config.server.data_dir = data_dir.to_path_buf();
    if let Some(listen) = listen {
        config.server.listen = listen.to_owned();
    }
    config.sources = Profile::SEEDS
        .iter()
        .map(|p| SourceConfig {
            name: p.name().to_owned(),
            profile: p.name().to_owned(),
            path: Some(format!("/hooks/{}", p.name())),
            secrets: vec![secret::SecretEntry::Ref(format!(
                "file:{}",
                secret_path.display()
            ))],
            ..SourceConfig::default()
        })
        .collect();
    config.routes = vec![RouteConfig {
        to: "log".into(),
        ..RouteConfig::default()
    }];
    Ok((config, secret))
}
