//! Run the embedding example: an axum app with hookgate's verified pipeline beside its routes.
//!
//! ```sh
//! NINJA_SECRET=0123456789abcdef0123 cargo run -p hookgate-axum-app
//! # in another terminal:
//! cargo run -- send ninjaone --url http://127.0.0.1:3000/hooks/ninja --secret env:NINJA_SECRET
//! curl http://127.0.0.1:3000/stats
//! ```

use std::sync::Arc;

use hookgate::Secret;
use hookgate_axum_app::{Stats, app};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = Secret::new(
        std::env::var("NINJA_SECRET").map_err(|_| "set NINJA_SECRET (at least 16 bytes)")?,
        "env:NINJA_SECRET",
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(secret, Arc::new(Stats::default()))).await?;
    Ok(())
}
