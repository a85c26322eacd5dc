//! The monitor's log pane: a bounded ring of formatted log lines, fed by the log writer
//! ([`crate::logging`]). While the monitor holds the terminal ([`LogBuffer::set_capturing`]) the
//! lines go only here; before it starts and after it stops they also go to stdout as usual.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// How many lines the log pane keeps by default.
pub const DEFAULT_CAPACITY: usize = 2_000;

/// A bounded ring of log lines (the oldest dropped first).
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<VecDeque<String>>,
    capacity: usize,
    capturing: AtomicBool,
    /// The newest lines that went only here (the monitor held the terminal), at most
    /// [`HIDDEN_TAIL`]: printed when the node stops on its own, so the reason stays on screen.
    hidden: Mutex<VecDeque<String>>,
}

/// Lines kept in [`LogBuffer::hidden_tail`].
pub const HIDDEN_TAIL: usize = 20;

impl LogBuffer {
    /// An empty buffer keeping at most `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(4_096))),
            capacity: capacity.max(1),
            capturing: AtomicBool::new(false),
            hidden: Mutex::new(VecDeque::new()),
        }
    }

    /// Adds the lines of `text` (a formatted event, possibly with ANSI colours, which are
    /// removed).
    pub fn push(&self, text: &str) {
        let clean = strip_ansi(text);
        let capturing = self.capturing();
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut hidden = self.hidden.lock().unwrap_or_else(|e| e.into_inner());
        for line in clean.lines().filter(|l| !l.trim().is_empty()) {
            if lines.len() == self.capacity {
                lines.pop_front();
            }
            lines.push_back(line.to_string());
            if capturing {
                if hidden.len() == HIDDEN_TAIL {
                    hidden.pop_front();
                }
                hidden.push_back(line.to_string());
            }
        }
    }

    /// The last `n` lines before the newest `back` ones, oldest first (the pane scrolled back).
    pub fn window(&self, n: usize, back: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        // Scrolled past the oldest line: the oldest `n` lines.
        let end = lines.len().saturating_sub(back).max(n.min(lines.len()));
        let start = end.saturating_sub(n);
        lines.range(start..end).cloned().collect()
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// While true, log lines go only to this buffer (the monitor owns the terminal).
    pub fn set_capturing(&self, on: bool) {
        if on {
            self.hidden
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        self.capturing.store(on, Ordering::SeqCst);
    }

    /// The newest lines (at most [`HIDDEN_TAIL`]) written while capturing, oldest first: those
    /// the terminal never showed.
    pub fn hidden_tail(&self) -> Vec<String> {
        let hidden = self.hidden.lock().unwrap_or_else(|e| e.into_inner());
        hidden.iter().cloned().collect()
    }

    /// Whether log lines go only to this buffer.
    pub fn capturing(&self) -> bool {
        self.capturing.load(Ordering::SeqCst)
    }
}

/// `text` without ANSI escape sequences (CSI `ESC [ ... final` and two-byte `ESC x`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI: parameters and intermediates, then one final byte in '@'..='~'. Any other
        // escape is two characters.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_without_colours() {
        let buffer = LogBuffer::new(3);
        buffer.push("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m one\n");
        buffer.push("two\nthree\n");
        buffer.push("four\n");
        assert_eq!(buffer.window(10, 0), ["two", "three", "four"]);
        assert_eq!(buffer.window(2, 1), ["two", "three"]);
        assert_eq!(
            buffer.window(2, 100),
            ["two", "three"],
            "the top stays full"
        );
        assert!(
            buffer.hidden_tail().is_empty(),
            "all went to the terminal too"
        );
        buffer.set_capturing(true);
        buffer.push("five\n");
        buffer.set_capturing(false);
        buffer.push("six\n");
        assert_eq!(buffer.hidden_tail(), ["five"]);
        let first = LogBuffer::new(5);
        first.push("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m one\n");
        assert_eq!(first.window(1, 0), ["2026  INFO one"]);
    }
}
