//! [`RedisStore`]: dedup state shared by several replicas, in Redis.
//!
//! It lives beside the Redis stream destination, with the Redis client, so that the dedup stage
//! itself needs no client.
//!
//! When several `hookgate serve` replicas sit behind a load balancer, a sender's retry can reach
//! a different replica than the first delivery; the replicas must agree on which ids were
//! processed. Each key lives in Redis as one string:
//!
//! * `p:<token>` while a request holds the claim (set with `SET NX PX in_flight_ttl`, so a
//!   crashed replica's claim expires by itself);
//! * `d` once the event was processed (kept for `ttl`).
//!
//! Claim, commit and release are each one Lua script, so they are atomic, and commit and release
//! act only while the stored value is the caller's own token: a replica whose claim expired and
//! was taken over cannot release or overwrite the new owner's claim. A short in-process cache of
//! processed keys answers repeated duplicates without a round trip.
//!
//! Fail closed: when Redis cannot be reached (or answers past the timeout) the claim fails, the
//! [`Dedup`](crate::dedup::Dedup) stage answers 503 with `Retry-After`, and nothing is processed without
//! a claim. The connection is re-established by itself; no restart is needed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::dedup::{Claim, Claimed, DedupError, DedupKey, DedupStore};

/// Processed keys cached in process at most; past it the cache starts over.
const CACHE_MAX: usize = 100_000;

const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == 'd' then return 2 end
return 3
";

const COMMIT: &str = r"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == false then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
if v == 'd' then return 1 end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Why a Redis store could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL does not parse.
    #[error("invalid Redis URL: {0}")]
    Url(String),
}

/// Dedup state in Redis; see the [module docs](self).
pub struct RedisStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    ttl: Duration,
    in_flight_ttl: Duration,
    timeout: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<DedupKey, Instant>>,
    scripts: [redis::Script; 3],
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.client.get_connection_info();
        f.debug_struct("RedisStore")
            .field("addr", &info.addr().to_string())
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// A store at `url` (`redis://host:port/db`), remembering processed ids for `ttl` and
    /// claims for `in_flight_ttl`. Nothing connects until the first claim.
    pub fn new(url: &str, ttl: Duration, in_flight_ttl: Duration) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url).map_err(|e| RedisStoreError::Url(e.to_string()))?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            prefix: "hookgate:dedup:".into(),
            ttl,
            in_flight_ttl,
            timeout: Duration::from_secs(2),
            cache_ttl: Duration::from_secs(5),
            cache: Mutex::new(HashMap::new()),
            scripts: [
                redis::Script::new(CLAIM),
                redis::Script::new(COMMIT),
                redis::Script::new(RELEASE),
            ],
        })
    }

    /// Prefix of every key (default `hookgate:dedup:`); replicas that share ids share it.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a Redis command may take before the request fails closed (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long processed keys are answered from memory (default 5 s; zero turns it off).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    fn redis_key(&self, key: &DedupKey) -> String {
        format!("{}{}", self.prefix, key.to_hex())
    }

    async fn connection(&self) -> Result<ConnectionManager, DedupError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .map_err(|e| DedupError::Unavailable(format!("redis: {e}")))?;
        Ok(connection.clone())
    }

    async fn run(&self, script: usize, key: &DedupKey, args: &[String]) -> Result<i64, DedupError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.scripts[script].key(self.redis_key(key));
        for arg in args {
            invocation.arg(arg);
        }
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(DedupError::Unavailable(format!("redis: {e}"))),
            Err(_) => Err(DedupError::Unavailable(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        }
    }

    fn cached(&self, key: &DedupKey) -> bool {
        if self.cache_ttl.is_zero() {
            return false;
        }
        self.cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(key).copied())
            .is_some_and(|until| until > Instant::now())
    }

    fn remember(&self, key: DedupKey) {
        if self.cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            let now = Instant::now();
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, until| *until > now);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, now + self.cache_ttl.min(self.ttl));
        }
    }
}

fn token_value(claim: &Claim) -> String {
    format!("p:{:016x}", claim.token)
}

fn random_token() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        // No entropy (never seen): a time-based token still differs between claims.
        Err(_) => crate::clock::now_ms().rotate_left(17) ^ u64::from(std::process::id()),
    }
}

impl DedupStore for RedisStore {
    fn ready(&self) -> BoxFuture<'_, Result<(), DedupError>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let ping = redis::cmd("PING");
            let ping = ping.query_async::<String>(&mut connection);
            match tokio::time::timeout(self.timeout, ping).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(DedupError::Unavailable(format!("redis: {e}"))),
                Err(_) => Err(DedupError::Unavailable("redis: no answer to PING".into())),
            }
        })
    }

    fn claim(&self, key: DedupKey) -> BoxFuture<'_, Result<Claimed, DedupError>> {
        Box::pin(async move {
            if self.cached(&key) {
                return Ok(Claimed::Duplicate);
            }
            let claim = Claim {
                key,
                token: random_token(),
            };
            let args = [token_value(&claim), millis(self.in_flight_ttl).to_string()];
            match self.run(0, &key, &args).await? {
                1 => Ok(Claimed::New(claim)),
                2 => {
                    self.remember(key);
                    Ok(Claimed::Duplicate)
                }
                _ => Ok(Claimed::InFlight),
            }
        })
    }

    fn commit<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            let args = [token_value(claim), millis(self.ttl).to_string()];
            let committed = self.run(1, &claim.key, &args).await?;
            if committed == 1 {
                self.remember(claim.key);
            } else {
                tracing::warn!(
                    "dedup claim expired and was taken over before its commit; the event may be \
                     processed twice (raise dedup.in_flight_ttl)"
                );
            }
            Ok(())
        })
    }

    fn release<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(async move {
            self.run(2, &claim.key, &[token_value(claim)]).await?;
            Ok(())
        })
    }
}
