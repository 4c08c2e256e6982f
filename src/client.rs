//! The outbound HTTP client: `http://` and `https://` for forwarding and `hookgate send`.
//!
//! [`build`] makes the client the destinations and the NinjaOne API use; [`post`] sends one
//! request (a [`signed_request`](crate::send::signed_request), an admin API call) and reads the
//! whole [`Reply`].
//!
//! TLS is rustls with the *ring* provider (pure Rust and assembly; no C toolchain beyond gcc).
//! Servers are checked against the Mozilla root store (webpki-roots, compiled in, so the
//! binary does not depend on the host's certificate files), or against a PEM bundle of your own
//! for upstreams behind a private CA.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The client hookgate makes requests with.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The CA bundle holds no usable certificate.
    #[error("CA bundle: {0}")]
    Roots(String),
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A client for `http://` and `https://` URLs. With `ca_pem`, servers must chain to one of its
/// certificates instead of a public root.
pub fn build(ca_pem: Option<&[u8]>) -> Result<HttpClient, ClientError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match ca_pem {
        None => builder
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| ClientError::Tls(e.to_string()))?,
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ClientError::Roots(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Roots(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(ClientError::Roots("no certificate found".into()));
            }
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ClientError::Tls(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder.with_tls_config(config)
        }
    };
    let connector = builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// The default client (public roots). Building it cannot fail with the compiled-in provider
/// and roots; should it ever, the error says so on first use instead of panicking.
pub fn default_client() -> Result<HttpClient, ClientError> {
    build(None)
}

/// An error and its sources, joined by `: ` ("client error (Connect): invalid peer
/// certificate: UnknownIssuer"): the outer messages of client errors say little alone.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Why [`post`] could not send a request or read its answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostError {
    /// The URL has no scheme.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// Only `http://` and `https://` URLs can be sent to.
    #[error("only http:// and https:// URLs are supported")]
    UnsupportedScheme,
    /// Connecting or exchanging the request failed.
    #[error("request failed: {0}")]
    Http(String),
}

/// A response, read to its end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

/// Send `request` over HTTP or HTTPS (public roots) and read the whole answer.
pub async fn post(request: Request<Full<Bytes>>) -> Result<Reply, PostError> {
    match request.uri().scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(PostError::UnsupportedScheme),
        None => return Err(PostError::InvalidUrl(request.uri().to_string())),
    }
    let client = build(None).map_err(|e| PostError::Http(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| PostError::Http(error_chain(&e)))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| PostError::Http(error_chain(&e)))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}
