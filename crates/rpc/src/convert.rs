//! keel's blocks, transactions, receipts and logs in the shapes of `alloy-rpc-types-eth`, which
//! serialize as geth does.
