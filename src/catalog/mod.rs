//! Sources managed at runtime: the registry behind the admin API's `/sources`.
//!
//! Every seed sender manages its webhooks through an API; this is hookgate's side of that. A
//! source created through the admin API is stored in the embedded store (fsync'd before the
//! answer) and mounted at once, without a restart; it is mounted again at every start. Sources
//! from the configuration file are listed too, read-only.
//!
//! **Tenants.** Each source belongs to a tenant (or none). An admin token is global or scoped to
//! one tenant ([`Scope`]); a tenant's token sees and changes only its tenant's sources, and the
//! events and deliveries of those sources. Anything else answers 404, exactly as if it did not
//! exist: a tenant cannot even learn another's source ids.
//!
//! **Secrets.** Creating a source generates a strong secret unless one is given, and returns it
//! once; afterwards only fingerprints and dates are shown. Rotation adds a secret beside the old
//! ones and can give the old ones an expiry (`not_after`); until then both verify.
//!
//! **Disabled** sources answer 403 `source_disabled` (the path stays taken, so a sender sees a
//! deliberate refusal rather than a missing endpoint); deleted ones 404 `unknown_source`.

mod dry_run;
mod record;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;

#[doc(hidden)]
pub use self::dry_run::{DryRunReport as TestReport, DryRunRequest as TestRequest};
pub use self::dry_run::{DryRunReport, DryRunRequest, StageVerdict};
pub use self::record::{
    CreateSource, RouteSpec, SecretRequest, SourceRecord, StoredSecret, UpdateSource,
};
use crate::auth::Secret;
use crate::config::SourceConfig;
use crate::pipeline::Pipeline;
use crate::route::filter::headers_not_kept;
use crate::source::Source;
use crate::spool::{Spool, SpoolRoute};

/// Whose admin token made a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The global admin token: every source, every event.
    Global,
    /// A tenant's token: that tenant's sources and their events only.
    Tenant(String),
}

impl Scope {
    /// Whether a source of `tenant` is visible in this scope.
    pub fn sees(&self, tenant: Option<&str>) -> bool {
        match self {
            Self::Global => true,
            Self::Tenant(mine) => tenant == Some(mine.as_str()),
        }
    }
}

/// Why a sources operation failed; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// No such source in this scope (404).
    #[error("no source {0}")]
    NotFound(String),
    /// The source comes from the configuration file (409).
    #[error("source {0} comes from the configuration file and cannot be changed here")]
    ReadOnly(String),
    /// A name or path already taken (409).
    #[error("{0}")]
    Conflict(String),
    /// The request describes no usable source (422), every problem listed.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The store failed (500).
    #[error("storage: {0}")]
    Storage(String),
}

impl SourceError {
    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::NotFound(_) => http::StatusCode::NOT_FOUND,
            Self::ReadOnly(_) | Self::Conflict(_) => http::StatusCode::CONFLICT,
            Self::Invalid(_) => http::StatusCode::UNPROCESSABLE_ENTITY,
            Self::Storage(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::ReadOnly(_) => "read_only",
            Self::Conflict(_) => "conflict",
            Self::Invalid(_) => "invalid_source",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// Where sources are mounted: the gateway's mount table, and what building a pipeline needs.
pub(crate) trait Mountable: Send + Sync {
    /// Serve `source` at `path`, its events going to `routes`.
    fn mount(&self, path: &str, source: Source, sc: &SourceConfig, routes: &[SpoolRoute]);
    /// Answer 403 `source_disabled` at `path`.
    fn disable(&self, path: &str);
    /// Stop serving `path`.
    fn unmount(&self, path: &str);
    /// Whether a route may name this destination.
    fn has_destination(&self, name: &str) -> bool;
    /// The pipeline `source` is mounted with (its body cap, decompression): what a dry run
    /// runs.
    fn pipeline(&self, source: Source, sc: &SourceConfig) -> Pipeline;
}

/// A source of the configuration file, as the registry lists it (read-only).
pub(crate) struct Configured {
    /// Its `[[source]]` table.
    pub(crate) config: SourceConfig,
    /// The source it built.
    pub(crate) source: Source,
    /// Its secrets (shown by fingerprint).
    pub(crate) secrets: Vec<Secret>,
    /// The `[[route]]`s its events go by.
    pub(crate) routes: Vec<SpoolRoute>,
}

/// One known source: its record and, when it builds, the source itself.
struct Entry {
    record: SourceRecord,
    /// From the configuration file: listed, never changed here.
    read_only: bool,
    built: Option<Source>,
    /// Where its events go: the record's routes, or the configuration file's `[[route]]`s for
    /// a source of the file (what the dry run matches the sample against).
    routes: Vec<SpoolRoute>,
}

/// The sources, managed and configured; see the [module docs](self).
pub struct Registry {
    spool: Arc<Spool>,
    target: Arc<dyn Mountable>,
    // A std RwLock: held for map lookups and inserts, never across an await (writes to the store
    // happen before the map changes).
    entries: RwLock<HashMap<String, Entry>>,
    // One change at a time: a create and a rename cannot both take a name.
    changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl Registry {
    /// A registry over `spool`, mounting into `target`; `configured` are the configuration file's
    /// sources (already mounted), listed read-only.
    pub(crate) fn new(
        spool: Arc<Spool>,
        target: Arc<dyn Mountable>,
        configured: Vec<Configured>,
    ) -> Self {
        let mut entries = HashMap::new();
        for Configured {
            config: sc,
            source,
            secrets,
            routes,
        } in configured
        {
            let record = SourceRecord::from_config(&sc, &secrets);
            entries.insert(
                record.id.clone(),
                Entry {
                    record,
                    read_only: true,
                    built: Some(source),
                    routes,
                },
            );
        }
        Self {
            spool,
            target,
            entries: RwLock::new(entries),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Mount every source stored in the spool; what no longer builds (a profile renamed, a
    /// destination removed from the file) is listed, not mounted, with its problems logged.
    pub(crate) fn load(&self) -> Result<usize, SourceError> {
        let stored = self
            .spool
            .sources()
            .map_err(|e| SourceError::Storage(e.to_string()))?;
        let mut mounted = 0;
        for (id, bytes) in stored {
            let record: SourceRecord = match serde_json::from_slice(&bytes) {
                Ok(record) => record,
                Err(error) => {
                    tracing::error!(%id, %error, "a stored source record does not parse; skipped");
                    continue;
                }
            };
            // A source added to the configuration file since may have taken its name or path.
            if let Err(conflict) = self.check_unique(&record) {
                tracing::error!(%id, %conflict, "stored source not mounted");
                self.write().insert(
                    id,
                    Entry {
                        routes: record.spool_routes(),
                        record,
                        read_only: false,
                        built: None,
                    },
                );
                continue;
            }
            let built = match self.build(&record) {
                Ok(source) => {
                    self.apply(&record, &source);
                    mounted += 1;
                    Some(source)
                }
                Err(problems) => {
                    tracing::error!(%id, problems = %problems.join("; "), "stored source not mounted");
                    None
                }
            };
            self.write().insert(
                id,
                Entry {
                    routes: record.spool_routes(),
                    record,
                    read_only: false,
                    built,
                },
            );
        }
        Ok(mounted)
    }

    /// Build the source a record describes.
    fn build(&self, record: &SourceRecord) -> Result<Source, Vec<String>> {
        let mut problems = Vec::new();
        let sc = record.config_with_names();
        let label = format!("source {:?}", record.config.name);
        for route in &record.routes {
            if !self.target.has_destination(&route.to) {
                problems.push(format!(
                    "route to {:?}: no such destination (routes name destinations of the \
                     configuration file)",
                    route.to
                ));
            }
        }
        for (i, route) in record.routes.iter().enumerate() {
            for error in route.filter().err().into_iter().flatten() {
                problems.push(format!("route #{}: {error}", i + 1));
            }
        }
        let secrets = record.secrets(&mut problems);
        let source = crate::config::build_source(&sc, Some(&secrets), &label, &mut problems);
        if let Some(source) = &source {
            let kept = &source.shape().keep_headers;
            for (i, route) in record.routes.iter().enumerate() {
                for (j, header) in headers_not_kept(&route.when, kept) {
                    problems.push(format!(
                        "route #{}: condition #{} of `when`: the source does not keep header \
                         {header}, so none of its events carries one (add it to keep_headers; \
                         credential headers are never kept)",
                        i + 1,
                        j + 1
                    ));
                }
            }
        }
        match source {
            Some(source) if problems.is_empty() => Ok(source),
            _ => Err(problems),
        }
    }

    /// Mount (or disable) what `record` says.
    fn apply(&self, record: &SourceRecord, source: &Source) {
        if record.enabled {
            self.target.mount(
                &record.path(),
                source.clone(),
                &record.config_with_names(),
                &record.spool_routes(),
            );
        } else {
            self.target.disable(&record.path());
        }
    }

    fn visible(&self, scope: &Scope, id: &str) -> Result<SourceRecord, SourceError> {
        self.read()
            .get(id)
            .filter(|e| scope.sees(e.record.tenant.as_deref()))
            .map(|e| e.record.clone())
            .ok_or_else(|| SourceError::NotFound(id.to_owned()))
    }

    fn writable(&self, scope: &Scope, id: &str) -> Result<SourceRecord, SourceError> {
        let record = self.visible(scope, id)?;
        let read_only = self.read().get(id).is_some_and(|e| e.read_only);
        if read_only {
            return Err(SourceError::ReadOnly(id.to_owned()));
        }
        Ok(record)
    }

    /// Store `record`, then mount it: nothing is served that a restart would not serve again.
    async fn save(&self, record: SourceRecord) -> Result<SourceRecord, SourceError> {
        let source = self.build(&record).map_err(SourceError::Invalid)?;
        let bytes = serde_json::to_vec(&record).map_err(|e| SourceError::Storage(e.to_string()))?;
        self.spool
            .put_source(&record.id, bytes)
            .await
            .map_err(|e| SourceError::Storage(e.to_string()))?;
        let previous_path = self.read().get(&record.id).map(|e| e.record.path());
        if let Some(previous) = previous_path.filter(|p| *p != record.path()) {
            self.target.unmount(&previous);
        }
        self.apply(&record, &source);
        self.write().insert(
            record.id.clone(),
            Entry {
                routes: record.spool_routes(),
                record: record.clone(),
                read_only: false,
                built: Some(source),
            },
        );
        Ok(record)
    }

    /// Every source visible in `scope`, by name.
    pub fn list(&self, scope: &Scope) -> Vec<Value> {
        let entries = self.read();
        let mut visible: Vec<&Entry> = entries
            .values()
            .filter(|e| scope.sees(e.record.tenant.as_deref()))
            .collect();
        visible.sort_by(|a, b| a.record.config.name.cmp(&b.record.config.name));
        visible
            .into_iter()
            .map(|e| e.record.view(e.read_only, e.built.is_some()))
            .collect()
    }

    /// One source.
    pub fn get(&self, scope: &Scope, id: &str) -> Result<Value, SourceError> {
        let entries = self.read();
        entries
            .get(id)
            .filter(|e| scope.sees(e.record.tenant.as_deref()))
            .map(|e| e.record.view(e.read_only, e.built.is_some()))
            .ok_or_else(|| SourceError::NotFound(id.to_owned()))
    }

    /// The names of the sources visible in `scope` (`None`: every source), for scoping the
    /// event log.
    pub fn names(&self, scope: &Scope) -> Option<Vec<String>> {
        match scope {
            Scope::Global => None,
            Scope::Tenant(_) => Some(
                self.read()
                    .values()
                    .filter(|e| scope.sees(e.record.tenant.as_deref()))
                    .map(|e| e.record.config.name.clone())
                    .collect(),
            ),
        }
    }

    /// Create a source. Returns its view and, when it was generated, its secret (shown once).
    pub async fn create(
        &self,
        scope: &Scope,
        request: CreateSource,
    ) -> Result<(Value, Option<String>), SourceError> {
        let _one = self.changes.lock().await;
        let tenant = match (scope, request.tenant.clone()) {
            (Scope::Tenant(mine), Some(asked)) if asked != *mine => {
                return Err(SourceError::Invalid(vec![format!(
                    "a tenant's token creates sources of its own tenant ({mine}), not {asked}"
                )]));
            }
            (Scope::Tenant(mine), _) => Some(mine.clone()),
            (Scope::Global, asked) => asked,
        };
        let (record, generated) = SourceRecord::create(request, tenant, now_rfc3339())?;
        self.check_unique(&record)?;
        let record = self.save(record).await?;
        Ok((record.view(false, true), generated))
    }

    fn check_unique(&self, record: &SourceRecord) -> Result<(), SourceError> {
        let entries = self.read();
        for other in entries.values().filter(|e| e.record.id != record.id) {
            if other.record.config.name == record.config.name {
                return Err(SourceError::Conflict(format!(
                    "a source is already named {:?}",
                    record.config.name
                )));
            }
            if other.record.path() == record.path() {
                return Err(SourceError::Conflict(format!(
                    "path {:?} is already taken",
                    record.path()
                )));
            }
        }
        Ok(())
    }

    /// Change a source: enable or disable it, or replace its routes.
    pub async fn update(
        &self,
        scope: &Scope,
        id: &str,
        update: UpdateSource,
    ) -> Result<Value, SourceError> {
        let _one = self.changes.lock().await;
        let mut record = self.writable(scope, id)?;
        if let Some(enabled) = update.enabled {
            record.enabled = enabled;
        }
        if let Some(routes) = update.routes {
            record.routes = routes;
        }
        record.updated_at = now_rfc3339();
        let record = self.save(record).await?;
        Ok(record.view(false, true))
    }

    /// Add a secret (given, or generated and returned once), and give the others an expiry.
    pub async fn add_secret(
        &self,
        scope: &Scope,
        id: &str,
        request: SecretRequest,
    ) -> Result<(Value, Option<String>), SourceError> {
        let _one = self.changes.lock().await;
        let mut record = self.writable(scope, id)?;
        let generated = record.add_secret(request, now_rfc3339())?;
        record.updated_at = now_rfc3339();
        let record = self.save(record).await?;
        Ok((record.view(false, true), generated))
    }

    /// Set when the secret with `fingerprint` stops being accepted (`at`; now when `None`).
    pub async fn retire_secret(
        &self,
        scope: &Scope,
        id: &str,
        fingerprint: &str,
        at: Option<SystemTime>,
    ) -> Result<Value, SourceError> {
        let _one = self.changes.lock().await;
        let mut record = self.writable(scope, id)?;
        record.retire(fingerprint, at.unwrap_or_else(SystemTime::now))?;
        record.updated_at = now_rfc3339();
        let record = self.save(record).await?;
        Ok(record.view(false, true))
    }

    /// Delete a source: it is unmounted (its path answers 404) and forgotten. Its events stay in
    /// the log, and their pending deliveries are still made.
    pub async fn delete(&self, scope: &Scope, id: &str) -> Result<(), SourceError> {
        let _one = self.changes.lock().await;
        let record = self.writable(scope, id)?;
        self.spool
            .remove_source(id)
            .await
            .map_err(|e| SourceError::Storage(e.to_string()))?;
        self.target.unmount(&record.path());
        self.write().remove(id);
        Ok(())
    }

    /// Push a signed sample event through a dry run of the source's own stages
    /// ([`Pipeline::dry_run`]) and say what each made of it.
    pub async fn dry_run(
        &self,
        scope: &Scope,
        id: &str,
        request: DryRunRequest,
    ) -> Result<DryRunReport, SourceError> {
        let record = self.visible(scope, id)?;
        let (source, routes) = self
            .read()
            .get(id)
            .and_then(|e| Some((e.built.clone()?, e.routes.clone())))
            .ok_or_else(|| SourceError::Invalid(vec!["the source does not build".into()]))?;
        let pipeline = self.target.pipeline(source, &record.config_with_names());
        dry_run::run(&record, &pipeline, routes, request).await
    }

    /// The event types the spec of the source named `name` knows.
    pub fn available(&self, scope: &Scope, name: &str) -> Result<Value, SourceError> {
        let entries = self.read();
        let entry = entries
            .values()
            .find(|e| e.record.config.name == name && scope.sees(e.record.tenant.as_deref()))
            .ok_or_else(|| SourceError::NotFound(name.to_owned()))?;
        let events: Vec<Value> = entry
            .built
            .as_ref()
            .and_then(Source::spec)
            .map(|spec| {
                spec.events()
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "type": e.event_type,
                            "summary": e.summary,
                            "examples": e.examples.len(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(serde_json::json!({
            "source": name,
            "spec": entry.built.as_ref().is_some_and(|s| s.spec().is_some()),
            "events": events,
        }))
    }
}

/// How long the secrets being replaced stay valid after a rotation, when the request does not
/// say.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);
