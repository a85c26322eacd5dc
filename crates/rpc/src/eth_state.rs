//! Account state at any block: `eth_getBalance`, `eth_getCode`, `eth_getStorageAt`,
//! `eth_getStorageValues` (several accounts' slots in one call, at most
//! [`MAX_STORAGE_VALUES`] slots), `eth_getTransactionCount` and `eth_getProof` (EIP-1186).
//!
//! State is read from the flat tables (one lookup per value), for an older block with the state
//! reverts back to it laid over them. Proofs come from the trie: the head's as stored, a recent
//! block's rebuilt in memory (within the chain's `--state.history` blocks, else an error).

use std::{collections::BTreeMap, sync::Arc};

use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, EIP1186AccountProofResponse, EIP1186StorageProof,
};
use alloy_serde::JsonStorageKey;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_chain::PendingBlock;
use keel_storage::{ChainReader, StateReader, StateView, StoreError, StoreReader};
use keel_trie::Trie;
use keel_types::Header;
use revm::primitives::KECCAK_EMPTY;

use crate::{
    RpcContext,
    block_id::require_header,
    dispatch::{head_at, register_read},
    error::{RpcError, RpcResult},
};

/// Most storage keys one `eth_getProof` may ask for.
const MAX_PROOF_KEYS: usize = 1_024;
/// Most slots (over all accounts) one `eth_getStorageValues` may ask for (geth's limit too).
pub(crate) const MAX_STORAGE_VALUES: usize = 1_024;

/// The state after one block: the head's flat state with the net change back to the block laid
/// over it (see [`StoreReader::state_after`]); for `"pending"`, the head's with the preconfirmed
/// transactions' changes laid over it.
pub(crate) struct BlockState<'a> {
    view: StateView<'a>,
    pending: Option<Arc<PendingBlock>>,
}

impl<'a> BlockState<'a> {
    /// The state without the pending block's changes, as a trie too.
    pub(crate) fn view(&self) -> &StateView<'a> {
        &self.view
    }
}

impl StateReader for BlockState<'_> {
    type Error = StoreError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError> {
        let base = self.view.account(address)?;
        let Some(changed) = self.pending.as_ref().and_then(|p| p.account(address)) else {
            return Ok(base);
        };
        // The storage root of a pending account is not computed (the block isn't sealed);
        // nothing that reads pending state uses it.
        let storage_root = base.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        Ok(changed.map(|a| TrieAccount {
            nonce: a.nonce,
            balance: a.balance,
            storage_root,
            code_hash: a.code_hash,
        }))
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError> {
        if let Some(value) = self.pending.as_ref().and_then(|p| p.storage(address, slot)) {
            return Ok(value);
        }
        self.view.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        if let Some(code) = self.pending.as_ref().and_then(|p| p.code(code_hash)) {
            return Ok(Some(code));
        }
        self.view.code(code_hash)
    }
}

/// The pending block being built on `reader`'s head, if any.
pub(crate) fn pending_block(ctx: &RpcContext, reader: &StoreReader) -> Option<Arc<PendingBlock>> {
    let pending = ctx.chain.preconfirmations().current()?;
    let head = reader.head().ok()??.0;
    (pending.parent_hash == head).then_some(pending)
}

/// The state after block `hash` (whose header is `header`): any canonical block (flat history
/// needs no trie), a side-chain block only within the recent-state window. With `pending`, the
/// preconfirmed transactions of the block being built on the head are laid over it.
pub(crate) fn state_after<'a>(
    ctx: &RpcContext,
    reader: &'a StoreReader,
    hash: B256,
    header: &Header,
    pending: bool,
) -> RpcResult<BlockState<'a>> {
    let canonical = reader.canonical_hash(header.number)? == Some(hash);
    let max_depth = (!canonical).then_some(ctx.chain.state_history());
    let view = reader.state_after(hash, max_depth)?;
    let pending = if pending {
        pending_block(ctx, reader)
    } else {
        None
    };
    Ok(BlockState { view, pending })
}

fn is_pending(id: Option<BlockId>) -> bool {
    matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)))
}

/// The code of an account (empty if none).
pub(crate) fn account_code(
    state: &(impl StateReader<Error = StoreError> + ?Sized),
    account: Option<&TrieAccount>,
) -> RpcResult<Bytes> {
    let Some(account) = account else {
        return Ok(Bytes::new());
    };
    if account.code_hash == KECCAK_EMPTY {
        return Ok(Bytes::new());
    }
    state.code(&account.code_hash)?.ok_or_else(|| {
        RpcError::Internal(format!(
            "code {} is referenced but missing",
            account.code_hash
        ))
    })
}

fn block_or_latest(id: Option<BlockId>) -> BlockId {
    id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest))
}

/// Run `f` on the state after the block `id` names.
fn with_state<T>(
    ctx: &RpcContext,
    id: Option<BlockId>,
    f: impl FnOnce(&BlockState<'_>) -> RpcResult<T>,
) -> RpcResult<T> {
    let reader = ctx.reader()?;
    let (hash, header) = require_header(&reader, block_or_latest(id))?;
    let state = state_after(ctx, &reader, hash, &header, is_pending(id))?;
    f(&state)
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_read(module, "eth_getBalance", head_at::<1>, |params, ctx| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let id: Option<BlockId> = seq.optional_next()?;
        let balance = with_state(ctx, id, |state| {
            Ok(state.account(&address)?.map_or(U256::ZERO, |a| a.balance))
        })?;
        Ok(balance)
    })?;
    register_read(module, "eth_getCode", head_at::<1>, |params, ctx| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let id: Option<BlockId> = seq.optional_next()?;
        let code = with_state(ctx, id, |state| {
            let account = state.account(&address)?;
            account_code(state, account.as_ref())
        })?;
        Ok(code)
    })?;
    register_read(module, "eth_getStorageAt", head_at::<2>, |params, ctx| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slot: JsonStorageKey = seq.next()?;
        let id: Option<BlockId> = seq.optional_next()?;
        let value = with_state(ctx, id, |state| {
            Ok(state.storage(&address, &slot.as_b256())?)
        })?;
        Ok(B256::from(value))
    })?;
    register_read(
        module,
        "eth_getStorageValues",
        head_at::<1>,
        |params, ctx| {
            let mut seq = params.sequence();
            let requests: BTreeMap<Address, Vec<JsonStorageKey>> = seq.next()?;
            let id: Option<BlockId> = seq.optional_next()?;
            Ok(storage_values(ctx, requests, id)?)
        },
    )?;
    register_read(
        module,
        "eth_getTransactionCount",
        head_at::<1>,
        |params, ctx| {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let id: Option<BlockId> = seq.optional_next()?;
            let pending = is_pending(id);
            let nonce = with_state(ctx, id, |state| {
                Ok(state.account(&address)?.map_or(0, |a| a.nonce))
            })?;
            let nonce = if pending {
                ctx.mempool
                    .pending_nonce(&address)
                    .map_or(nonce, |pool| pool.max(nonce))
            } else {
                nonce
            };
            Ok(U64::from(nonce))
        },
    )?;
    module.register_blocking_method("eth_getProof", |params, ctx, _| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let keys: Vec<JsonStorageKey> = seq.next()?;
        let id: Option<BlockId> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(get_proof(&ctx, address, keys, block_or_latest(id))?)
    })?;
    Ok(())
}

/// The next nonce of `address`: its nonce in the pending state, or past its pool transactions
/// (what `eth_getTransactionCount(address, "pending")` answers).
pub(crate) fn pending_nonce(ctx: &RpcContext, address: Address) -> RpcResult<u64> {
    let pending = Some(BlockId::Number(BlockNumberOrTag::Pending));
    let nonce = with_state(ctx, pending, |state| {
        Ok(state.account(&address)?.map_or(0, |a| a.nonce))
    })?;
    Ok(ctx
        .mempool
        .pending_nonce(&address)
        .map_or(nonce, |pool| pool.max(nonce)))
}

/// `eth_getStorageValues`: for each account, the values of its requested slots, in the order
/// asked, all read from one block's state.
fn storage_values(
    ctx: &RpcContext,
    requests: BTreeMap<Address, Vec<JsonStorageKey>>,
    id: Option<BlockId>,
) -> RpcResult<BTreeMap<Address, Vec<B256>>> {
    let slots: usize = requests.values().map(Vec::len).sum();
    if slots > MAX_STORAGE_VALUES {
        return Err(RpcError::invalid_params(format!(
            "too many storage slots requested: {slots} (at most {MAX_STORAGE_VALUES} per call)"
        )));
    }
    with_state(ctx, id, |state| {
        requests
            .into_iter()
            .map(|(address, keys)| {
                let values = keys
                    .iter()
                    .map(|key| Ok(B256::from(state.storage(&address, &key.as_b256())?)))
                    .collect::<RpcResult<Vec<B256>>>()?;
                Ok((address, values))
            })
            .collect()
    })
}

/// EIP-1186 account and storage proofs from the trie under the block's state root.
fn get_proof(
    ctx: &RpcContext,
    address: Address,
    keys: Vec<JsonStorageKey>,
    id: BlockId,
) -> RpcResult<EIP1186AccountProofResponse> {
    if keys.len() > MAX_PROOF_KEYS {
        return Err(RpcError::invalid_params(format!(
            "too many storage keys: {} (at most {MAX_PROOF_KEYS})",
            keys.len()
        )));
    }
    let reader = ctx.reader()?;
    let (hash, header) = require_header(&reader, id)?;
    // Only the head's trie is stored; older tries are rebuilt in memory, within the window.
    let view = reader.state_after(hash, Some(ctx.chain.state_history()))?;
    let mut account_trie = Trie::new(&view, header.state_root);
    let account_proof = account_trie
        .proof(keccak256(address).as_slice())
        .map_err(StoreError::Trie)?;
    let account: Option<TrieAccount> = account_trie
        .get(keccak256(address).as_slice())
        .map_err(StoreError::Trie)?
        .map(|leaf| {
            alloy_rlp::Decodable::decode(&mut leaf.as_slice())
                .map_err(|e| RpcError::Internal(format!("undecodable account leaf: {e}")))
        })
        .transpose()?;
    let storage_root = account.as_ref().map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    let mut storage_trie = Trie::new_storage(&view, keccak256(address), storage_root);
    let mut storage_proof = Vec::with_capacity(keys.len());
    for key in keys {
        let hashed = keccak256(key.as_b256());
        let proof = storage_trie
            .proof(hashed.as_slice())
            .map_err(StoreError::Trie)?;
        let value = storage_trie
            .get(hashed.as_slice())
            .map_err(StoreError::Trie)?
            .map(|leaf| {
                <U256 as alloy_rlp::Decodable>::decode(&mut leaf.as_slice())
                    .map_err(|e| RpcError::Internal(format!("undecodable storage leaf: {e}")))
            })
            .transpose()?
            .unwrap_or_default();
        storage_proof.push(EIP1186StorageProof { key, value, proof });
    }
    Ok(EIP1186AccountProofResponse {
        address,
        balance: account.as_ref().map_or(U256::ZERO, |a| a.balance),
        code_hash: account.as_ref().map_or(KECCAK_EMPTY, |a| a.code_hash),
        nonce: account.as_ref().map_or(0, |a| a.nonce),
        storage_hash: storage_root,
        account_proof,
        storage_proof,
    })
}
