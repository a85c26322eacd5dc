//! Drawing a [`Snapshot`] (and the log pane) into a ratatui frame. Pure rendering: no reads of
//! the node here, so it can be tested on a `TestBackend`.

use alloy_primitives::B256;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table},
};

use super::{
    data::{Snapshot, WithdrawalStatus},
    logs::LogBuffer,
};

/// The node's addresses, as the start banner lists them.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// `label: value` lines (URLs, L1 contracts, accounts).
    pub fields: Vec<(String, String)>,
    /// The whole banner (with the dev keys), shown with `k`.
    pub banner: String,
}

/// What the user toggled.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The full banner over the panes.
    pub show_banner: bool,
    /// Lines the log pane is scrolled back (0: follows the newest).
    pub log_scroll: usize,
}

const KEY: Style = Style::new().fg(Color::DarkGray);

/// Draws one frame.
pub fn render(
    frame: &mut Frame,
    snapshot: &Snapshot,
    node: &NodeInfo,
    logs: &LogBuffer,
    view: &View,
) {
    let area = frame.area();
    let node_height = (node.fields.len() as u16 + 2).max(8);
    let [header, top, middle, withdrawals, log_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(8),
        Constraint::Length(node_height.max(10)),
        Constraint::Length(6),
        Constraint::Min(3),
    ])
    .areas(area);

    frame.render_widget(Paragraph::new(header_line(snapshot, view)), header);

    let [chain, pool, batches] = Layout::horizontal([
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
    ])
    .areas(top);
    frame.render_widget(chain_pane(snapshot), chain);
    frame.render_widget(pool_pane(snapshot), pool);
    frame.render_widget(batches_pane(snapshot), batches);

    let [blocks, node_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    frame.render_widget(blocks_table(snapshot, blocks.height), blocks);
    frame.render_widget(node_pane(node), node_area);
    frame.render_widget(withdrawals_table(snapshot), withdrawals);
    frame.render_widget(log_pane(logs, view, log_area), log_area);

    if view.show_banner {
        let overlay = Rect {
            x: area.x + 2,
            y: area.y + 1,
            width: area.width.saturating_sub(4),
            height: area.height.saturating_sub(2),
        };
        frame.render_widget(Clear, overlay);
        frame.render_widget(
            Paragraph::new(node.banner.as_str()).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Node banner (k closes) "),
            ),
            overlay,
        );
    }
}

fn header_line(snapshot: &Snapshot, view: &View) -> Line<'static> {
    let mut spans = vec![
        Span::styled(
            " keel L2 monitor ",
            Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan),
        ),
        Span::raw(format!("· chain {} ", snapshot.chain_id)),
        Span::raw(format!("· L2 #{} ", snapshot.l2_head)),
    ];
    if let Some(head) = snapshot.l1.as_ref().and_then(|l1| l1.head) {
        spans.push(Span::raw(format!("· L1 #{head} ")));
    }
    let scroll = if view.log_scroll > 0 {
        format!(
            "  (logs scrolled back {} lines: End follows)",
            view.log_scroll
        )
    } else {
        String::new()
    };
    spans.push(Span::styled(
        format!("  q/Ctrl-C quit (stops the node) · k banner & keys · ↑↓ PgUp PgDn logs{scroll}"),
        KEY,
    ));
    Line::from(spans)
}

fn pane(title: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(format!(" {title} "))
}

fn kv(key: &str, value: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<11}"), KEY),
        Span::raw(value.into()),
    ])
}

fn chain_pane(s: &Snapshot) -> Paragraph<'static> {
    let mut lines = vec![kv(
        "L2 head",
        format!("#{}  {}", s.l2_head, short_hash(&s.l2_head_hash)),
    )];
    match &s.l1 {
        Some(l1) => {
            let head = l1.head.map_or("?".to_string(), |h| format!("#{h}"));
            let cursor = l1
                .cursor
                .map_or(String::new(), |c| format!("  (read up to #{c})"));
            lines.push(kv("L1 head", format!("{head}{cursor}")));
            if l1.unreachable {
                let reason = l1.last_error.clone().unwrap_or_default();
                lines.push(Line::styled(
                    format!("L1 unreachable: {reason}"),
                    Style::new().fg(Color::Red),
                ));
            }
        }
        None => lines.push(kv("L1 head", "no L1 watched")),
    }
    lines.push(kv("blocks/s", rate(s.rates.blocks, 2)));
    lines.push(kv("txs/s", rate(s.rates.txs, 2)));
    lines.push(kv("gas/s", s.rates.gas.map_or("–".into(), si)));
    if let Some(e) = &s.error {
        lines.push(Line::styled(
            format!("read failed: {e}"),
            Style::new().fg(Color::Red),
        ));
    }
    Paragraph::new(lines).block(pane("Chain"))
}

fn pool_pane(s: &Snapshot) -> Paragraph<'static> {
    let mut lines = Vec::new();
    match s.pool {
        Some(pool) => {
            lines.push(kv("pending", pool.pending.to_string()));
            lines.push(kv("queued", pool.queued.to_string()));
            lines.push(kv("privileged", pool.privileged.to_string()));
        }
        None => lines.push(kv("mempool", "–")),
    }
    let d = &s.deposits;
    lines.push(kv("deposits", format!("{} seen on L1", d.seen)));
    lines.push(kv("  included", d.included.to_string()));
    lines.push(kv(
        "  waiting",
        format!("{} ({} in the pool)", d.waiting(), d.in_pool),
    ));
    Paragraph::new(lines).block(pane("Mempool & deposits"))
}

fn batches_pane(s: &Snapshot) -> Paragraph<'static> {
    let b = &s.batches;
    let describe = |row: &Option<super::data::BatchRow>, what: &str| match row {
        Some(r) => {
            let l1 = r
                .l1_block
                .map_or(String::new(), |n| format!(", {what} L1 #{n}"));
            format!(
                "#{} (blocks {}–{}{l1})",
                r.number, r.first_block, r.last_block
            )
        }
        None => "none".to_string(),
    };
    let lines = vec![
        kv("sealed", describe(&b.last_sealed, "")),
        kv("committed", describe(&b.last_committed, "at")),
        kv("verified", describe(&b.last_verified, "at")),
        kv(
            "waiting",
            format!(
                "{} to commit, {} to verify",
                b.sealed.saturating_sub(b.committed),
                b.committed.saturating_sub(b.verified)
            ),
        ),
    ];
    Paragraph::new(lines).block(pane("Batches"))
}

fn blocks_table(s: &Snapshot, height: u16) -> Table<'static> {
    let rows = s
        .blocks
        .iter()
        .take(height.saturating_sub(3) as usize)
        .map(|b| {
            let pct = if b.gas_limit > 0 {
                b.gas_used as f64 * 100.0 / b.gas_limit as f64
            } else {
                0.0
            };
            let pct = if b.gas_used > 0 && pct < 0.1 {
                "<0.1%".to_string()
            } else {
                format!("{pct:.1}%")
            };
            let txs = if b.privileged > 0 {
                format!("{} ({} L1)", b.txs, b.privileged)
            } else {
                b.txs.to_string()
            };
            Row::new(vec![
                Cell::from(format!("#{}", b.number)),
                Cell::from(short_hash(&b.hash)),
                Cell::from(txs),
                Cell::from(format!("{} ({pct})", si(b.gas_used as f64))),
                Cell::from(age(s.now, b.timestamp)),
            ])
        });
    Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(15),
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Min(6),
        ],
    )
    .header(Row::new(["block", "hash", "txs", "gas", "age"]).style(KEY))
    .block(pane("Recent blocks"))
}

fn node_pane(node: &NodeInfo) -> Paragraph<'static> {
    let width = node.fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let lines: Vec<Line> = node
        .fields
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{:<width$} ", format!("{k}:")), KEY),
                Span::raw(v.clone()),
            ])
        })
        .collect();
    Paragraph::new(lines).block(pane("Node (k: full banner, dev keys)"))
}

fn withdrawals_table(s: &Snapshot) -> Table<'static> {
    let rows = s.withdrawals.iter().map(|w| {
        let (status, style) = match w.status {
            WithdrawalStatus::InBlock => ("in a block, batch not sealed".to_string(), KEY),
            WithdrawalStatus::Sealed(n) => (format!("batch #{n} sealed"), Style::new()),
            WithdrawalStatus::Committed(n) => (
                format!("batch #{n} committed, awaiting proof"),
                Style::new().fg(Color::Yellow),
            ),
            WithdrawalStatus::Claimable(n) => (
                format!("batch #{n} verified: claimable on L1"),
                Style::new().fg(Color::Green),
            ),
        };
        Row::new(vec![
            Cell::from(format!("#{}", w.block)),
            Cell::from(format!("{:#x}", w.tx_hash)),
            Cell::from(w.message_id.to_string()),
            Cell::from(status).style(style),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(67),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "block",
            "L2 tx (keel bridge claim takes it)",
            "msg id",
            "status",
        ])
        .style(KEY),
    )
    .block(pane("Recent withdrawals (L2 → L1 messages)"))
}

fn log_pane(logs: &LogBuffer, view: &View, area: Rect) -> Paragraph<'static> {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = logs
        .window(height, view.log_scroll)
        .into_iter()
        .map(|line| {
            let style = if line.contains("ERROR") {
                Style::new().fg(Color::Red)
            } else if line.contains("WARN") {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            };
            Line::styled(line, style)
        })
        .collect();
    Paragraph::new(lines).block(pane("Logs"))
}

/// `0x1234…abcd`.
pub fn short_hash(hash: &B256) -> String {
    let hex = format!("{hash:x}");
    format!("0x{}…{}", &hex[..6], &hex[hex.len() - 4..])
}

fn rate(value: Option<f64>, decimals: usize) -> String {
    value.map_or("–".into(), |v| format!("{v:.decimals$}"))
}

/// `1.23 M`-style figures.
fn si(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn age(now: u64, timestamp: u64) -> String {
    if timestamp == 0 {
        return "–".into();
    }
    let secs = now.saturating_sub(timestamp);
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 7_200 {
        format!("{}m", secs / 60)
    } else {
        format!("{}h", secs / 3_600)
    }
}
