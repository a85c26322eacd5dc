//! The node's start banner: URLs, addresses and keys, collected while the node starts and
//! written as one block, so that log lines from the components never land inside it.

use std::{fmt::Write as _, io::Write as _};

/// The lines of the banner, written at once by [`Banner::print`].
#[derive(Debug, Default)]
pub struct Banner {
    text: String,
    /// The `label: value` lines, for the terminal monitor's node pane.
    fields: Vec<(String, String)>,
}

impl Banner {
    /// A banner opening with `title`.
    pub fn new(title: &str) -> Self {
        Self {
            text: format!("{title}\n"),
            fields: Vec::new(),
        }
    }

    /// A `label: value` line, labels aligned.
    pub fn field(&mut self, label: &str, value: impl std::fmt::Display) -> &mut Self {
        self.fields.push((label.to_string(), value.to_string()));
        let label = format!("{label}:");
        let _ = writeln!(self.text, "  {label:<22} {value}");
        self
    }

    /// A free-form line, indented by `indent` spaces.
    pub fn line(&mut self, indent: usize, text: impl std::fmt::Display) -> &mut Self {
        let _ = writeln!(self.text, "{:indent$}{text}", "");
        self
    }

    /// The `label: value` lines, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The banner's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Writes the banner to stdout in one locked write (the log writer takes the same lock per
    /// line, so no log line can split it).
    pub fn print(&self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.text().as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_aligned_and_in_order() {
        let mut banner = Banner::new("keel L2 node running");
        banner.field("chain id", 7).field("HTTP RPC", "http://x");
        banner.line(4, "(0) key");
        assert_eq!(
            banner.text(),
            "keel L2 node running\n  chain id:              7\n  HTTP RPC:              http://x\n    (0) key\n"
        );
    }
}
