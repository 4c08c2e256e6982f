//! `hookgate gen`: a receiver crate, or one sender module, from a spec.

use super::*;

pub(super) fn generate(
    spec: PathBuf,
    out: PathBuf,
    name: Option<String>,
    profile: &str,
    type_field: Option<String>,
    hookgate_path: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    use hookgate::codegen::{self, Written};
    let profile = profile_arg(profile)?;
    let mut options = codegen::Options::new(profile);
    options.name = name;
    options.type_field = type_field;
    if let Some(path) = hookgate_path {
        let path = std::path::absolute(&path)?;
        options.hookgate_dep = format!("path = {:?}", path.display().to_string());
    }
    let files = match codegen::generate(&spec, &out, &options) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was written.");
            return Ok(ExitCode::FAILURE);
        }
    };
    for (path, written) in codegen::write(&files, &out, force)? {
        let what = match written {
            Written::Written => "wrote",
            Written::Kept => "kept (yours; --force to overwrite)",
        };
        outln!("{what:>8}  {}", out.join(path).display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn generate_module(
    spec: &std::path::Path,
    profile: &str,
    module: &std::path::Path,
    hookgate_crate: &str,
) -> anyhow::Result<ExitCode> {
    let profile = profile_arg(profile)?;
    let source = match hookgate::codegen::generate_module(
        spec,
        profile,
        hookgate_crate,
        &module.display().to_string(),
    ) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was written.");
            return Ok(ExitCode::FAILURE);
        }
    };
    std::fs::write(module, source).with_context(|| format!("cannot write {}", module.display()))?;
    outln!("   wrote  {}", module.display());
    Ok(ExitCode::SUCCESS)
}
