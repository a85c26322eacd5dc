//! `keel-loadgen`: see `keel-loadgen --help` and `docs/loadgen.md`.

use std::process::ExitCode;

use clap::Parser;
use keel_loadgen::cli::Args;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let json = args.json;
    let (cfg, targets) = match args.into_config() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
    // On Ctrl-C / SIGTERM the run is dropped, which stops a spawned anvil (kill on drop).
    let outcome = rt.block_on(async {
        tokio::select! {
            r = keel_loadgen::run(&cfg, &targets) => Some(r),
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
            if json {
                match serde_json::to_string_pretty(&report.to_json()) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                print!("{}", report.render());
            }
            if report.failures.is_empty() {
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
