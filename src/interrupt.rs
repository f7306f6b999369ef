//! Interrupts at any moment of a command: Ctrl-C (SIGINT) and a CI cancel
//! or `timeout` (SIGTERM) alike.
//!
//! Outside an apply's changes, the command stops at once, after releasing
//! what must not outlive it: each held state lock registers a release with
//! [`on_exit`]. While an apply makes changes ([`graceful`]), the first
//! interrupt asks it to start nothing new and let running operations finish
//! (it then stores the state and releases the lock itself); a second one
//! stops at once, the lock released: the journal holds every operation that
//! finished and every create that started, and the next run folds it in.
//! When a release fails, the message names the `force-unlock` that frees it.
//!
//! Exit codes follow the shell's: 130 after SIGINT, 143 after SIGTERM.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Release = Arc<dyn Fn() -> String + Send + Sync>;
/// An apply's stop flag, and what to say when the first interrupt sets it.
type Stop = (Arc<AtomicBool>, Arc<dyn Fn() + Send + Sync>);

static HOOKS: Mutex<Vec<(u64, Release)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);
/// While an apply makes changes: its stop flag and what to say on the first
/// interrupt.
static GRACEFUL: Mutex<Option<Stop>> = Mutex::new(None);

/// Listens for SIGINT and SIGTERM for the rest of the process (within the
/// command's tokio runtime).
pub fn install() {
    tokio::spawn(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                return;
            };
            loop {
                let (name, code) = tokio::select! {
                    _ = int.recv() => ("SIGINT", 130),
                    _ = term.recv() => ("SIGTERM", 143),
                };
                interrupted(name, code);
            }
        }
        #[cfg(not(unix))]
        while tokio::signal::ctrl_c().await.is_ok() {
            interrupted("Ctrl-C", 130);
        }
    });
}

fn interrupted(name: &str, code: i32) {
    let graceful = GRACEFUL.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some((stop, say)) = &graceful
        && !stop.swap(true, Ordering::SeqCst)
    {
        say();
        return;
    }
    let first = graceful.is_none();
    let hooks: Vec<Release> = HOOKS.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(_, h)| h.clone()).collect();
    let released: Vec<String> = hooks.iter().map(|h| h()).collect();
    eprintln!("\n{name} received{}: stopping now.", if first { "" } else { " again" });
    for line in released {
        eprintln!("  {line}");
    }
    if !first {
        eprintln!(
            "  The journal holds every operation that finished and every create that started: the next command \
             folds it into the state."
        );
    }
    std::process::exit(code);
}

/// A release to run if the process is interrupted; removed when dropped.
pub struct Hook(u64);

/// Registers `release` (e.g. a state lock's), which returns a line saying
/// what it did.
pub fn on_exit(release: impl Fn() -> String + Send + Sync + 'static) -> Hook {
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    HOOKS.lock().unwrap_or_else(|e| e.into_inner()).push((id, Arc::new(release)));
    Hook(id)
}

impl Drop for Hook {
    fn drop(&mut self) {
        HOOKS.lock().unwrap_or_else(|e| e.into_inner()).retain(|(id, _)| *id != self.0);
    }
}

/// While this lives, the first interrupt sets [`Graceful::flag`] (and runs
/// `say`) instead of stopping the process.
pub struct Graceful(Arc<AtomicBool>);

pub fn graceful(say: impl Fn() + Send + Sync + 'static) -> Graceful {
    let flag = Arc::new(AtomicBool::new(false));
    *GRACEFUL.lock().unwrap_or_else(|e| e.into_inner()) = Some((flag.clone(), Arc::new(say)));
    Graceful(flag)
}

impl Graceful {
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Graceful {
    fn drop(&mut self) {
        *GRACEFUL.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
