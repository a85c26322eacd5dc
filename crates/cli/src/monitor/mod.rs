//! `keel l2`'s terminal monitor (ratatui, crossterm backend): the L1 and L2 heads, block, tx
//! and gas rates, the mempool, recent blocks, deposits, batches by status, recent withdrawals,
//! the node's addresses (the start banner, whole with `k`) and a scrolling log pane.
//!
//! It is on when `keel l2` runs with stdout on a terminal and without `--no-monitor`
//! ([`crate::commands::l2::monitor_wanted`]); logging then feeds [`logs::LogBuffer`], and while
//! the monitor holds the terminal nothing else is written to it. It runs on its own thread:
//! [`data::Collector`] reads the node about four times a second, [`ui::render`] draws.
//!
//! `q` or Ctrl-C (a key event in raw mode) asks the node to stop, through the same graceful
//! shutdown as a signal. The terminal is restored (main screen, cooked mode, cursor shown) when
//! the monitor stops for any reason: a quit, a signal, a component that stops the node, an error
//! drawing, or a panic anywhere (a panic hook restores it before the panic is reported).

pub mod data;
pub mod logs;
#[cfg(test)]
mod tests;
pub mod ui;

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use ratatui::{
    Terminal,
    backend::CrosstermBackend,
    crossterm::{
        cursor,
        event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
        execute,
        terminal::{self, EnterAlternateScreen, LeaveAlternateScreen},
    },
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::{
    data::{Collector, Sources},
    logs::LogBuffer,
    ui::{NodeInfo, View},
};

/// Time between refreshes.
pub const REFRESH: Duration = Duration::from_millis(250);

/// The monitor's thread name (its own panics restore the terminal without waiting for it).
const THREAD_NAME: &str = "keel-monitor";

/// True while the monitor holds the terminal (raw mode, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Held while drawing, so that a restore from another thread's panic waits for the frame.
static TERMINAL: Mutex<()> = Mutex::new(());
static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// A running monitor.
pub struct Monitor {
    thread: Option<JoinHandle<()>>,
    /// Cancelled when the user quits.
    quit: CancellationToken,
    /// Tells the thread to stop.
    stop: Arc<AtomicBool>,
    buffer: Arc<LogBuffer>,
}

impl Monitor {
    /// Starts the monitor if logging was set up for it, else prints the banner to stdout (the
    /// node without a monitor). The monitor stops when `node` is cancelled.
    pub fn start_or_print_banner(
        banner: &crate::banner::Banner,
        sources: Sources,
        node: CancellationToken,
    ) -> Option<Monitor> {
        let Some(buffer) = crate::logging::monitor_buffer() else {
            banner.print();
            return None;
        };
        let info = NodeInfo {
            fields: banner.fields().to_vec(),
            banner: banner.text().to_string(),
        };
        match Self::start(buffer, info, sources, node) {
            Ok(monitor) => Some(monitor),
            Err(e) => {
                warn!(error = %e, "can't start the terminal monitor: logging to stdout");
                banner.print();
                None
            }
        }
    }

    fn start(
        buffer: Arc<LogBuffer>,
        info: NodeInfo,
        sources: Sources,
        node: CancellationToken,
    ) -> std::io::Result<Monitor> {
        install_panic_hook();
        enter(&buffer)?;
        let quit = CancellationToken::new();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (buffer, quit, stop) = (buffer.clone(), quit.clone(), stop.clone());
            std::thread::Builder::new()
                .name(THREAD_NAME.into())
                .spawn(move || {
                    let reason = run(&buffer, info, sources, &node, &quit, &stop);
                    restore();
                    match reason {
                        Ok(Stopped::Quit) => info!("quit from the monitor"),
                        Ok(Stopped::Node) => {}
                        Err(e) => warn!(
                            error = %e,
                            "the terminal monitor failed: logging to stdout (Ctrl-C stops the node)"
                        ),
                    }
                })
        };
        match thread {
            Ok(thread) => Ok(Monitor {
                thread: Some(thread),
                quit,
                stop,
                buffer,
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Cancelled when the user quits with `q` or Ctrl-C.
    pub fn quit_token(&self) -> CancellationToken {
        self.quit.clone()
    }

    /// Stops the monitor and waits until the terminal is restored. If the node stopped without
    /// the user quitting, the last log lines the terminal did not show are printed, so the
    /// reason stays on screen.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        restore();
        let tail = self.buffer.hidden_tail();
        if !self.quit.is_cancelled() && !tail.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "last log lines of the monitor:");
            for line in tail {
                let _ = writeln!(out, "  {line}");
            }
            let _ = out.flush();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        restore();
    }
}

/// Completes when `signal` does or the user quits the monitor (if there is one).
pub async fn until_quit(monitor: Option<&Monitor>, signal: impl std::future::Future<Output = ()>) {
    match monitor {
        Some(monitor) => {
            let quit = monitor.quit_token();
            tokio::select! {
                _ = signal => {}
                _ = quit.cancelled() => {}
            }
        }
        None => signal.await,
    }
}

enum Stopped {
    /// `q` or Ctrl-C.
    Quit,
    /// The node is stopping (signal or component failure), or the monitor was told to stop.
    Node,
}

fn run(
    buffer: &LogBuffer,
    info: NodeInfo,
    sources: Sources,
    node: &CancellationToken,
    quit: &CancellationToken,
    stop: &AtomicBool,
) -> std::io::Result<Stopped> {
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let mut collector = Collector::new(sources);
    let mut view = View::default();
    loop {
        if node.is_cancelled() || stop.load(Ordering::SeqCst) {
            return Ok(Stopped::Node);
        }
        let snapshot = collector.collect().clone();
        {
            let _frame = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
            if !ACTIVE.load(Ordering::SeqCst) {
                // A panic elsewhere restored the terminal: the monitor is over.
                return Ok(Stopped::Node);
            }
            terminal.draw(|frame| ui::render(frame, &snapshot, &info, buffer, &view))?;
        }
        // Keys until the next refresh (a key redraws at once).
        let next = Instant::now() + REFRESH;
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() || !event::poll(left)? {
                break;
            }
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                        && matches!(key.code, KeyCode::Char('c' | 'C'));
                    match key.code {
                        _ if ctrl_c => {
                            quit.cancel();
                            return Ok(Stopped::Quit);
                        }
                        KeyCode::Char('q' | 'Q') => {
                            quit.cancel();
                            return Ok(Stopped::Quit);
                        }
                        KeyCode::Char('k' | 'K') => view.show_banner = !view.show_banner,
                        KeyCode::Esc => view.show_banner = false,
                        KeyCode::Up => view.log_scroll = scroll(buffer, view.log_scroll, 1),
                        KeyCode::PageUp => view.log_scroll = scroll(buffer, view.log_scroll, 10),
                        KeyCode::Down => view.log_scroll = view.log_scroll.saturating_sub(1),
                        KeyCode::PageDown => view.log_scroll = view.log_scroll.saturating_sub(10),
                        KeyCode::End => view.log_scroll = 0,
                        KeyCode::Home => view.log_scroll = buffer.len().saturating_sub(1),
                        _ => continue,
                    }
                    break;
                }
                Event::Resize(..) => break,
                _ => {}
            }
        }
    }
}

fn scroll(buffer: &LogBuffer, at: usize, by: usize) -> usize {
    (at + by).min(buffer.len().saturating_sub(1))
}

/// Takes the terminal: raw mode, alternate screen, cursor hidden; logs go to the pane only.
fn enter(buffer: &LogBuffer) -> std::io::Result<()> {
    let _frame = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
    terminal::enable_raw_mode()?;
    if let Err(e) = execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide) {
        let _ = terminal::disable_raw_mode();
        return Err(e);
    }
    buffer.set_capturing(true);
    ACTIVE.store(true, Ordering::SeqCst);
    Ok(())
}

/// Gives the terminal back as it was (idempotent); logs go to stdout again.
fn restore() {
    let _frame = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
    restore_locked();
}

fn restore_locked() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
        if let Some(buffer) = crate::logging::monitor_buffer() {
            buffer.set_capturing(false);
        }
    }
}

/// On a panic, restore the terminal before the panic is reported (the monitor thread's own
/// panic doesn't wait for the frame lock it may hold).
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            if ACTIVE.load(Ordering::SeqCst) {
                if std::thread::current().name() == Some(THREAD_NAME) {
                    restore_locked();
                } else {
                    restore();
                }
            }
            previous(panic);
        }));
    });
}
