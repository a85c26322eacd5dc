//! The log subscriber: `--log.level` (a tracing filter) and `--log.format` (`text` or `json`,
//! one JSON object per line), written to stdout (the node), stderr (other commands, whose stdout
//! carries their result) or, while `keel l2`'s terminal monitor runs, into the monitor's log
//! pane ([`crate::monitor::logs::LogBuffer`]).

use std::{
    io::{IsTerminal, Write},
    sync::{Arc, OnceLock},
};

use tracing_subscriber::fmt::MakeWriter;

use crate::monitor::logs::LogBuffer;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), `target`.
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    Stderr,
    /// Stdout, and the monitor's log pane; only the pane while the monitor holds the terminal.
    Monitor,
}

/// The monitor's log buffer, set when logging goes to [`Destination::Monitor`].
static MONITOR_BUFFER: OnceLock<Arc<LogBuffer>> = OnceLock::new();

/// The log buffer of the terminal monitor, if logging was set up for it (`keel l2` on a
/// terminal without `--no-monitor`).
pub fn monitor_buffer() -> Option<Arc<LogBuffer>> {
    MONITOR_BUFFER.get().cloned()
}

/// Installs the global subscriber. Fails (with a message for the user) on a bad filter.
pub fn init(level: &str, format: LogFormat, destination: Destination) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| format!("invalid --log.level {level:?}: {e}"))?;
    let buffer = match destination {
        Destination::Monitor => Some(
            MONITOR_BUFFER
                .get_or_init(|| Arc::new(LogBuffer::new(crate::monitor::logs::DEFAULT_CAPACITY)))
                .clone(),
        ),
        Destination::Stdout | Destination::Stderr => None,
    };
    let to_stderr = destination == Destination::Stderr;
    let ansi = format == LogFormat::Text
        && if to_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
    let writer = LogWriter { to_stderr, buffer };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| format!("setting up logging: {e}"))
}

/// Makes one [`EventWriter`] per log event.
#[derive(Debug, Clone)]
struct LogWriter {
    to_stderr: bool,
    buffer: Option<Arc<LogBuffer>>,
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            bytes: Vec::with_capacity(256),
            to_stderr: self.to_stderr,
            buffer: self.buffer.clone(),
        }
    }
}

/// Collects one formatted event and writes it when dropped, in one locked write (so no other
/// output, like the node's banner, can split a line), to the monitor's buffer and/or the stream.
struct EventWriter {
    bytes: Vec<u8>,
    to_stderr: bool,
    buffer: Option<Arc<LogBuffer>>,
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if self.bytes.is_empty() {
            return;
        }
        if let Some(buffer) = &self.buffer {
            buffer.push(&String::from_utf8_lossy(&self.bytes));
            if buffer.capturing() {
                return;
            }
        }
        // A log line that can't be written has nowhere else to go.
        let _ = if self.to_stderr {
            std::io::stderr().lock().write_all(&self.bytes)
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(&self.bytes).and_then(|()| out.flush())
        };
    }
}
