//! `berthd check-storage`: the backend probe, step by step.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Opens the configured store and probes it; exit status 0 only when every
/// step passed.
pub fn check(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = crate::serve::load(path)?;
    let driver_config = &config.storage.driver;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        println!("checking {}", berth_drivers::describe(driver_config));
        let driver = match berth_drivers::open(driver_config).await {
            Ok(d) => d,
            Err(e) => {
                println!("FAIL open   {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let report = berth_drivers::probe(&*driver).await;
        print!("{}", report.render());
        if report.passed() {
            println!("storage OK: berthd can list, write, read and delete here");
            Ok(ExitCode::SUCCESS)
        } else {
            let step = report.failure().map(|s| s.step).unwrap_or("a step");
            println!("storage check failed at {step}: fix the setting named above and run again");
            Ok(ExitCode::FAILURE)
        }
    })
}
