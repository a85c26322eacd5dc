//! `keel-loadgen`: see `keel-loadgen --help` and `docs/loadgen.md`.

use std::process::ExitCode;

use clap::Parser;
use keel_loadgen::cli::{Args, Mode};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let mut args = Args::parse();
    match args.mode.take() {
        None => run_default(args),
        Some(Mode::Reads(a)) => {
            let (cfg, targets, json) = match a.into_config() {
                Ok(x) => x,
                Err(e) => return usage_error(&e),
            };
            drive(keel_loadgen::reads::run(&cfg, &targets), |r| {
                output(json, r.to_json(), r.render());
                r.failures.is_empty() && r.errors() == 0
            })
        }
        Some(Mode::SyncLatency(a)) => {
            let (cfg, targets, json) = match a.into_config() {
                Ok(x) => x,
                Err(e) => return usage_error(&e),
            };
            drive(keel_loadgen::sync_latency::run(&cfg, &targets), |r| {
                output(json, r.to_json(), r.render());
                r.failures.is_empty() && r.errors() == 0
            })
        }
    }
}

fn usage_error(e: &str) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn output(json: bool, value: serde_json::Value, text: String) {
    if json {
        match serde_json::to_string_pretty(&value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        print!("{text}");
    }
}

/// Runs `fut` on a multi-threaded runtime until it ends or Ctrl-C / SIGTERM (the run is dropped,
/// which stops a spawned anvil); `done` prints the result and says whether it was a success.
fn drive<R>(
    fut: impl std::future::Future<Output = eyre::Result<R>>,
    done: impl FnOnce(&R) -> bool,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async {
        tokio::select! {
            r = fut => Some(r),
            _ = shutdown_signal() => None,
        }
    });
    let Some(outcome) = outcome else {
        eprintln!("interrupted");
        rt.shutdown_background();
        return ExitCode::from(130);
    };
    match outcome {
        Ok(report) => {
            if done(&report) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The default mode: included TPS.
fn run_default(args: Args) -> ExitCode {
    let json = args.json;
    let (cfg, targets) = match args.into_config() {
        Ok(x) => x,
        Err(e) => return usage_error(&e),
    };
    drive(keel_loadgen::run(&cfg, &targets), |report| {
        output(json, report.to_json(), report.render());
        report.failures.is_empty()
    })
}

/// Resolves on Ctrl-C or (on unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
