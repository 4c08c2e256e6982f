//! Issue 6: the Redis dedup store against real Redis servers: the claim protocol, owner-only
//! commit and release, failing closed when Redis is gone, and recovering when it returns.

use std::time::Duration;

use hookgate::EventId;
use hookgate::dedup::{Claimed, DedupKey, DedupStore};
use hookgate::delivery::RedisStore;

use crate::services::{self, RedisProcess};

fn key(tag: &str) -> DedupKey {
    DedupKey::new(
        &format!("it-{}", std::process::id()),
        &EventId::new(format!("{tag}-{}", tokio_nanos())),
    )
}

fn tokio_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn new_claim(store: &RedisStore, key: DedupKey) -> hookgate::dedup::Claim {
    match store.claim(key).await.unwrap() {
        Claimed::New(claim) => claim,
        other => panic!("expected a new claim, got {other:?}"),
    }
}

#[tokio::test]
async fn claims_are_exclusive_and_only_their_owner_commits_or_releases() {
    if !services::available("Redis", services::REDIS) {
        return;
    }
    let url = format!("redis://{}", services::REDIS);
    let store = RedisStore::new(&url, Duration::from_secs(60), Duration::from_millis(300))
        .unwrap()
        .cache_ttl(Duration::ZERO);
    // A second replica: its own connection and cache, the same Redis.
    let replica =
        RedisStore::new(&url, Duration::from_secs(60), Duration::from_millis(300)).unwrap();

    let k = key("exclusive");
    let claim = new_claim(&store, k).await;
    assert_eq!(replica.claim(k).await.unwrap(), Claimed::InFlight);
    store.commit(&claim).await.unwrap();
    assert_eq!(replica.claim(k).await.unwrap(), Claimed::Duplicate);
    assert_eq!(store.claim(k).await.unwrap(), Claimed::Duplicate);

    // Released: the next delivery is processed.
    let k = key("released");
    let claim = new_claim(&store, k).await;
    store.release(&claim).await.unwrap();
    let _ = new_claim(&replica, k).await;

    // An expired claim is taken over; the first owner's late release and commit cannot touch
    // the new owner's claim.
    let k = key("expired");
    let first = new_claim(&store, k).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = new_claim(&replica, k).await;
    store.release(&first).await.unwrap();
    store.commit(&first).await.unwrap();
    assert_eq!(
        store.claim(k).await.unwrap(),
        Claimed::InFlight,
        "still the second's"
    );
    replica.commit(&second).await.unwrap();
    assert_eq!(store.claim(k).await.unwrap(), Claimed::Duplicate);
}

#[tokio::test]
async fn without_redis_claims_fail_closed_and_recover_when_it_returns() {
    let Some(mut redis) = RedisProcess::redis() else {
        return;
    };
    let store = RedisStore::new(
        &redis.url(),
        Duration::from_secs(60),
        Duration::from_secs(5),
    )
    .unwrap()
    .timeout(Duration::from_millis(500));
    let k = key("restart");
    let claim = new_claim(&store, k).await;
    store.commit(&claim).await.unwrap();

    redis.kill();
    // Not in the short cache: a fresh key must go to Redis, and fails closed.
    let fresh = key("while-down");
    assert!(
        store.claim(fresh).await.is_err(),
        "no claim may be granted while Redis is down"
    );

    redis.restart();
    // The same store, no restart: it reconnects (allow a few attempts while it does).
    let mut recovered = None;
    for _ in 0..50 {
        match store.claim(fresh).await {
            Ok(claimed) => {
                recovered = Some(claimed);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(matches!(recovered, Some(Claimed::New(_))), "{recovered:?}");
}
