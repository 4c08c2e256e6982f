//! hookgate as a library, for `bench/load.sh`: the full pipeline (body limit, HMAC verification,
//! JSON parse, validation against the built-in Homa spec, in-memory dedup) in front of a no-op
//! in-process handler, mounted at `/hooks/homa` and served with [`hookgate::server::serve`].
//!
//! The source is the `homa` profile, except that the event id (the dedup key) is read from the
//! `X-Request-Id` header, as `event_id = ["header:X-Request-Id"]` would in a `[[source]]`: the
//! load generator then decides whether dedup hits or misses without signing every request anew.
//!
//! ```sh
//! printf '%s' 'bench-secret-0123456789abcdef' > /tmp/homa-secret
//! cargo run --release --example bench_server -- 127.0.0.1:8082 /tmp/homa-secret
//! ```

// The same allocator as the `hookgate` binary, so the two are compared like for like.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::convert::Infallible;
use std::process::ExitCode;

use hookgate::config::{IdPlaceConfig, SourceConfig};
use hookgate::{Event, Gateway, Pipeline, Router};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(secret_file)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_server ADDR SECRET_FILE (e.g. 127.0.0.1:8082 /tmp/homa-secret)");
        return ExitCode::from(2);
    };
    // The same runtime flavour as `hookgate serve` (src/bin/hookgate.rs).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&addr, &secret_file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str, secret_file: &str) -> Result<(), Box<dyn std::error::Error>> {
    // Built the way `hookgate serve` builds a `[[source]]` table: the homa profile, its secret
    // from a file, its built-in spec, and the event id from a header.
    let config = SourceConfig {
        name: "homa".into(),
        profile: "homa".into(),
        secrets: vec![hookgate::auth::SecretEntry::Ref(format!(
            "file:{secret_file}"
        ))],
        event_id: Some(vec![IdPlaceConfig::Single("header:X-Request-Id".into())]),
        ..SourceConfig::default()
    };
    let source = hookgate::config::source_from_config(&config)?;
    let router = Router::new().on("*", |_event: Event| async { Ok::<_, Infallible>(()) });
    let gateway = Gateway::new().mount("/hooks/homa", Pipeline::new(source).service(router));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "bench_server listening on http://{}/hooks/homa",
        listener.local_addr()?
    );
    hookgate::server::serve(listener, gateway, Default::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
