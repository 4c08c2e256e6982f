//! Allocations per request, counted exactly, against committed budgets.
//!
//! A counting global allocator (this test binary only) counts every `alloc`, `alloc_zeroed` and
//! `realloc` made on the measuring thread while a case runs; the cases and their inputs are
//! `tests/cost/mod.rs`'s (each stage alone, the library pipeline, and the stack `hookgate serve`
//! runs in memory mode), on a current-thread runtime so that everything a request does happens on
//! that thread. Each case runs twice, for `SMALL` and `LARGE` operations, and the difference over
//! `LARGE - SMALL` is the figure: fixed costs cancel, and what remains does not depend on the
//! machine. The test fails when a case allocates more per request than its budget in [`BUDGETS`];
//! lower a budget when a change takes allocations away, so that they stay away.
//!
//! `cargo test --test alloc -- --nocapture` prints the table (BENCHMARKS.md has the figures).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

#[path = "cost/mod.rs"]
mod cost;

use cost::{Case, Cost};

/// Allocations per request each case may make at most: the figures measured on 2026-12-07
/// (issue 20, point 0), with room only where the figure is an average (dedup's table grows now
/// and then; the stacks carry it). verify and validate allocate nothing; parse makes the tree.
const BUDGETS: [(Case, f64); 9] = [
    (Case::Verify, BUDGET_VERIFY),
    (Case::Parse, BUDGET_PARSE),
    (Case::Validate, BUDGET_VALIDATE),
    (Case::Dedup, BUDGET_DEDUP),
    (Case::Route, BUDGET_ROUTE),
    // Conditions that hold allocate nothing per event (checked against the route's figure).
    (Case::Filtered, BUDGET_ROUTE),
    (Case::Library, BUDGET_LIBRARY),
    // An ingest limit allocates nothing per request (checked against the library's figure).
    (Case::Limited, BUDGET_LIBRARY),
    (Case::Serve, BUDGET_SERVE),
];
const BUDGET_VERIFY: f64 = 0.0;
const BUDGET_PARSE: f64 = 15.0;
const BUDGET_VALIDATE: f64 = 0.0;
const BUDGET_DEDUP: f64 = 2.5;
const BUDGET_ROUTE: f64 = 2.0;
const BUDGET_LIBRARY: f64 = 50.0;
const BUDGET_SERVE: f64 = 40.0;

const SMALL: usize = 100;
const LARGE: usize = 1100;

struct Counting;

static COUNT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counted() {
    if COUNTING.with(Cell::get) {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counter only reads a thread-local
// flag (const-initialised, no destructor, so it never allocates) and bumps an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `n` operations of `case`.
fn allocations(cost: &mut Cost, case: Case, n: usize) -> u64 {
    let prepared = cost.prepare(case, n);
    COUNT.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    cost.run(case, prepared);
    COUNTING.with(|c| c.set(false));
    COUNT.load(Ordering::Relaxed)
}

#[test]
fn allocations_per_request_stay_within_their_budgets() {
    let mut cost = Cost::new();
    let mut over = Vec::new();
    let mut measured = std::collections::HashMap::new();
    println!("| case | allocations per request | budget |\n|---|---:|---:|");
    for (case, budget) in BUDGETS {
        // A first run warms what is made once (lazy statics, the runtime, first table growth).
        allocations(&mut cost, case, SMALL);
        let small = allocations(&mut cost, case, SMALL);
        let large = allocations(&mut cost, case, LARGE);
        let per_request = large.saturating_sub(small) as f64 / (LARGE - SMALL) as f64;
        println!("| {} | {per_request:.2} | {budget} |", case.name());
        measured.insert(case.name(), per_request);
        if per_request > budget {
            over.push(format!(
                "{}: {per_request:.2} allocations per request, budget {budget}",
                case.name()
            ));
        }
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
    // Its own budget is the library's; this holds it to the library's figure of this run.
    let (library, limited) = (measured["library"], measured["limited"]);
    assert!(
        limited <= library + 0.05,
        "an ingest limit allocates: {limited:.2} per request against {library:.2} without"
    );
}
