use super::*;
use crate::spool::{Attempt, Due};

fn temp(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-log-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn event(i: u64, kind: &str, received_at_ms: u64) -> StoredEvent {
    StoredEvent {
        source: if i % 2 == 0 { "even" } else { "odd" }.into(),
        id: format!("id-{i}"),
        kind: kind.into(),
        received_at_ms,
        content_type: None,
        headers: Vec::new(),
        body: b"{}".to_vec(),
    }
}

fn attempt(status: u16) -> Attempt {
    Attempt {
        at_ms: now_ms(),
        status: Some(status),
        error: Some(format!("upstream answered {status}")),
        latency_ms: 3,
    }
}

async fn settle(spool: &Spool, due: &Due, status: u16) {
    let mut next = due.delivery.clone();
    next.record(attempt(status));
    if status < 300 {
        spool.delivered(due, &next).await.unwrap();
    } else {
        spool.bury(due, &next).await.unwrap();
    }
}

#[tokio::test]
async fn statuses_filters_replay_and_purge() {
    let dir = temp("ops");
    let spool = Spool::open(&dir).unwrap();
    let now = now_ms();
    let up = ["up".to_owned()];
    let ok = spool
        .accept(&event(0, "a.x", now), &up, vec![])
        .await
        .unwrap();
    let dead = spool
        .accept(&event(1, "a.y", now), &up, vec![])
        .await
        .unwrap();
    let retrying = spool
        .accept(&event(2, "b.x", now), &up, vec![])
        .await
        .unwrap();
    let unrouted = spool
        .accept(&event(3, "c", now), &[], vec![])
        .await
        .unwrap();
    let due = spool.due(now_ms(), 10).unwrap();
    settle(&spool, &due[0], 200).await;
    settle(&spool, &due[1], 400).await;
    let mut later = due[2].delivery.clone();
    later.record(attempt(500));
    later.next_at_ms = now_ms() + 60_000;
    spool.reschedule(&due[2], &later).await.unwrap();

    let status_of = |seq| {
        spool
            .list(&Filter::default(), 10)
            .unwrap()
            .into_iter()
            .find(|e| e.seq == seq)
            .unwrap()
            .status
    };
    assert_eq!(status_of(ok), EventStatus::Delivered);
    assert_eq!(status_of(dead), EventStatus::Dead);
    assert_eq!(status_of(retrying), EventStatus::Retrying);
    assert_eq!(status_of(unrouted), EventStatus::Unrouted);

    // Newest first; filters combine; pages continue below the cursor.
    let all: Vec<u64> = spool
        .list(&Filter::default(), 10)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(all, [unrouted, retrying, dead, ok]);
    let a = Filter {
        kind: Some("a.*".into()),
        ..Filter::default()
    };
    assert_eq!(spool.list(&a, 10).unwrap().len(), 2);
    let page = Filter {
        before: Some(dead),
        ..Filter::default()
    };
    assert_eq!(spool.list(&page, 10).unwrap()[0].seq, ok);
    let odd_dead = Filter {
        source: Some("odd".into()),
        status: Some(EventStatus::Dead),
        ..Filter::default()
    };
    assert_eq!(spool.list(&odd_dead, 10).unwrap()[0].seq, dead);

    // The attempts are kept with their status and error.
    let (_, deliveries) = spool.show(dead).unwrap().unwrap();
    assert_eq!(deliveries[0].delivery.history[0].status, Some(400));

    // Retrying dead letters moves only them back to pending, with a fresh budget.
    assert_eq!(spool.pending_len(), 1);
    let n = spool
        .replay_matching(&Filter::default(), None, ReplayOf::Dead)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(spool.pending_len(), 2);
    let (_, deliveries) = spool.show(dead).unwrap().unwrap();
    assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    assert_eq!(deliveries[0].delivery.attempts, 0);
    assert_eq!(deliveries[0].delivery.history.len(), 1, "history is kept");

    // Replaying a delivered event, to another destination too.
    assert_eq!(spool.replay(ok, None, ReplayOf::All).await.unwrap(), 1);
    assert_eq!(
        spool
            .replay(ok, Some("other"), ReplayOf::All)
            .await
            .unwrap(),
        1
    );
    assert_eq!(spool.deliveries(ok).unwrap().len(), 2);
    assert!(matches!(
        spool.replay(999, None, ReplayOf::All).await,
        Err(SpoolError::NoSuchEvent(999))
    ));

    // Purge never drops pending deliveries.
    assert_eq!(
        spool.purge(&Filter::default()).await.unwrap(),
        1,
        "only unrouted"
    );
    assert!(spool.get(unrouted).unwrap().is_none());
    assert!(spool.get(retrying).unwrap().is_some());
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sweep_removes_old_settled_events_only() {
    let dir = temp("sweep");
    let spool = Spool::open(&dir).unwrap();
    let now = now_ms();
    let old = now - 3_600_000;
    let up = ["up".to_owned()];
    let delivered = spool
        .accept(&event(0, "t", old), &up, vec![])
        .await
        .unwrap();
    let dead = spool
        .accept(&event(1, "t", old), &up, vec![])
        .await
        .unwrap();
    let pending = spool
        .accept(&event(2, "t", old), &up, vec![])
        .await
        .unwrap();
    let recent = spool
        .accept(&event(3, "t", now), &up, vec![])
        .await
        .unwrap();
    let due = spool.due(now_ms(), 10).unwrap();
    settle(&spool, &due[0], 200).await;
    settle(&spool, &due[1], 400).await;
    settle(&spool, &due[3], 200).await;

    let swept = spool.sweep(Duration::from_secs(60)).await.unwrap();
    assert_eq!(swept, Swept { events: 1 });
    assert!(spool.get(delivered).unwrap().is_none());
    assert!(spool.deliveries(delivered).unwrap().is_empty());
    for kept in [dead, pending, recent] {
        assert!(spool.get(kept).unwrap().is_some(), "{kept} kept");
    }
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}
