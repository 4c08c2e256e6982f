//! Runs one cost case of `tests/cost/mod.rs` for `bench/instructions.sh`, which counts its
//! instructions with callgrind: `cost_probe CASE N` prepares `N` operations of `CASE` (`verify`,
//! `parse`, `validate`, `dedup`, `route`, `library`, `serve`), then does them inside
//! [`measured`], the only function callgrind collects in (`--toggle-collect`). Two runs with
//! different `N`, subtracted, give instructions per operation without the set-up.

use std::process::ExitCode;

#[path = "../tests/cost/mod.rs"]
mod cost;

use cost::{Case, Cost, Prepared};

/// The operations, and nothing else: callgrind counts only while this runs.
#[inline(never)]
fn measured(cost: &Cost, case: Case, prepared: Prepared) {
    cost.run(case, prepared);
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(case), Some(n)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: cost_probe CASE N (CASE: verify parse validate dedup route library serve)"
        );
        return ExitCode::from(2);
    };
    let (Some(case), Ok(n)) = (Case::from_name(&case), n.parse::<usize>()) else {
        eprintln!("unknown case or count: {case} {n}");
        return ExitCode::from(2);
    };
    let mut cost = Cost::new();
    // Warm once outside the measurement, as the allocation test does.
    let warm = cost.prepare(case, 100);
    cost.run(case, warm);
    let prepared = cost.prepare(case, n);
    measured(&cost, case, std::hint::black_box(prepared));
    ExitCode::SUCCESS
}
