//! Ctrl-C and SIGTERM: the first cancels the call in flight (the module
//! rolls back, a running command is killed with its process tree); a second
//! one runs the command's last resort and ends the process with exit 130.

use super::exit::Outcome;

/// Watches for SIGINT and SIGTERM on a thread of its own (with its own
/// small runtime). `first` runs on the first signal; `again` on the second,
/// after which the process exits with [`Outcome::Interrupted`]'s code.
pub fn watch(
    what: &str,
    first: impl FnOnce() + Send + 'static,
    again: impl FnOnce() + Send + 'static,
) {
    let what = what.to_string();
    let warn = {
        let what = what.clone();
        move |error: &dyn std::fmt::Display| {
            eprintln!("warning: cannot watch for Ctrl-C ({error}); {what}");
        }
    };
    let spawned = std::thread::Builder::new()
        .name("leasebox-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => return warn(&error),
            };
            if let Err(error) = runtime.block_on(wait_for_signal()) {
                return warn(&error);
            }
            eprintln!("leasebox: interrupted; cancelling (Ctrl-C again to stop at once)");
            first();
            if let Err(error) = runtime.block_on(wait_for_signal()) {
                return warn(&error);
            }
            again();
            std::process::exit(i32::from(Outcome::Interrupted.code()));
        });
    if let Err(error) = spawned {
        eprintln!("warning: cannot watch for Ctrl-C ({error}); {what}");
    }
}

/// Waits for SIGINT or SIGTERM.
#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

/// Waits for Ctrl-C.
#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
