//! OpenTelemetry export of the request spans (cargo feature `otel`).
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; then
//! every span (`webhook` per request, with its source, event id, type and outcome) goes to that
//! collector over OTLP/HTTP with protobuf, in batches, from a background thread. The standard
//! `OTEL_*` variables (headers, timeout, service name) apply. Span fields never hold bodies or
//! secrets, so neither does the export.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Flushes and stops the exporter when dropped (at the end of `main`).
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: the OTLP exporter did not flush: {error}");
            }
        }
    }
}

/// The layer that exports spans, when an endpoint is configured.
pub fn layer<S>() -> (Option<Box<dyn Layer<S> + Send + Sync>>, Guard)
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some());
    if !configured {
        return (None, Guard(None));
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("warning: no OTLP export: {error}");
            return (None, Guard(None));
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("hookgate").build())
        .build();
    let tracer = provider.tracer("hookgate");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
    (Some(layer), Guard(Some(provider)))
}
