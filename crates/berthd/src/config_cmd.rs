//! `berthd config validate` and `berthd config print`.

use std::path::Path;
use std::process::ExitCode;

use berth_config::{Config, ConfigError};

use crate::capabilities::{Gap, gaps};

/// `level: file:line:column: message`, or `level: message` for what came
/// from the environment (line 0).
pub fn located(level: &str, origin: &Path, line: usize, column: usize, message: &str) -> String {
    if line > 0 {
        format!("{level}: {}:{line}:{column}: {message}", origin.display())
    } else {
        format!("{level}: {message}")
    }
}

/// Checks a file; exit status 0 only when Berth can serve it.
pub fn validate(file: &Path) -> anyhow::Result<ExitCode> {
    let loaded = match Config::load(file) {
        Ok(l) => l,
        Err(ConfigError::Invalid { problems, .. }) => {
            for p in &problems {
                println!("{}", located("error", file, p.line, p.column, &p.message));
            }
            println!(
                "{}: invalid ({} problem(s))",
                file.display(),
                problems.len()
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            println!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &loaded.warnings {
        println!("{}", located("warning", file, w.line, w.column, &w.message));
    }
    let mut blocking = 0;
    for gap in gaps(&loaded.config) {
        match gap {
            Gap::Blocking(m) => {
                blocking += 1;
                println!("cannot serve: {m}");
            }
            Gap::Ignored(m) => println!("note: {m}"),
        }
    }
    if blocking > 0 {
        println!(
            "{}: valid Distribution config, but Berth cannot serve it as is ({blocking} item(s) above)",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: OK — {}",
        file.display(),
        berth_drivers::describe(&loaded.config.storage.driver)
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the effective config.
pub fn print(path: Option<&Path>, show_secrets: bool) -> anyhow::Result<ExitCode> {
    let config = crate::serve::load(path)?;
    print!("{}", config.to_yaml(!show_secrets));
    Ok(ExitCode::SUCCESS)
}
