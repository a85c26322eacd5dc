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
}

impl LogBuffer {
    /// An empty buffer keeping at most `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(4_096))),
            capacity: capacity.max(1),
            capturing: AtomicBool::new(false),
        }
    }

    /// Adds the lines of `text` (a formatted event, possibly with ANSI colours, which are
    /// removed).
    pub fn push(&self, text: &str) {
        let clean = strip_ansi(text);
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        for line in clean.lines().filter(|l| !l.trim().is_empty()) {
            if lines.len() == self.capacity {
                lines.pop_front();
            }
            lines.push_back(line.to_string());
        }
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let skip = lines.len().saturating_sub(n);
        lines.iter().skip(skip).cloned().collect()
    }

    /// The last `n` lines before the newest `back` ones, oldest first (the pane scrolled back).
    pub fn window(&self, n: usize, back: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let end = lines.len().saturating_sub(back);
        let start = end.saturating_sub(n);
        lines.range(start..end).cloned().collect()
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// While true, log lines go only to this buffer (the monitor owns the terminal).
    pub fn set_capturing(&self, on: bool) {
        self.capturing.store(on, Ordering::SeqCst);
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
        assert_eq!(buffer.tail(10), ["two", "three", "four"]);
        assert_eq!(buffer.window(2, 1), ["two", "three"]);
        let first = LogBuffer::new(5);
        first.push("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m one\n");
        assert_eq!(first.tail(1), ["2026  INFO one"]);
    }
}
