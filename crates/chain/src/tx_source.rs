//! A [`TxSource`] over a fixed list, for blocks whose contents are decided up front.

use alloy_primitives::{Address, B256};
use keel_evm::{SkipReason, TxSource};
use keel_types::Transaction;

/// Offers the given transactions in order and records the ones the builder left out.
#[derive(Debug)]
pub struct ListTxSource {
    txs: std::vec::IntoIter<(Transaction, Address)>,
    /// What the builder left out, and why.
    pub skipped: Vec<(B256, SkipReason)>,
}

impl ListTxSource {
    pub fn new(txs: Vec<Transaction>, senders: Vec<Address>) -> Self {
        Self {
            txs: txs.into_iter().zip(senders).collect::<Vec<_>>().into_iter(),
            skipped: Vec::new(),
        }
    }
}

impl TxSource for ListTxSource {
    fn next_tx(&mut self) -> Option<(Transaction, Address)> {
        self.txs.next()
    }

    fn skipped(&mut self, tx_hash: B256, _sender: Address, reason: SkipReason) {
        self.skipped.push((tx_hash, reason));
    }
}
