//! Fee choice and replacement bumps, as pure functions of the L1's fee market and the caps.

use super::L1SenderConfig;

/// What the L1 asks for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Market {
    /// The base fee a transaction must pay in the next block (the higher of the latest block's
    /// and the next block's, as far as the node tells).
    pub base_fee: u128,
    /// The priority fee the node suggests.
    pub tip: u128,
    /// The blob base fee, when a blob transaction is being priced.
    pub blob_base_fee: Option<u128>,
}

/// The fee fields of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub max_fee_per_blob_gas: Option<u128>,
}

/// A fee the L1 needs (or a replacement needs) is above its configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverCap {
    /// Which fee field.
    pub field: &'static str,
    /// What it would have to be.
    pub needed: u128,
    /// The cap.
    pub cap: u128,
}

fn within(field: &'static str, needed: u128, cap: u128) -> Result<u128, OverCap> {
    if needed > cap {
        Err(OverCap { field, needed, cap })
    } else {
        Ok(needed)
    }
}

/// The fees for a new transaction: tip = the suggested one (capped), max fee = 2 × base fee +
/// tip, max blob fee = 2 × blob base fee, each capped. Fails when what is needed for inclusion
/// in the next block (base fee + tip; the blob base fee) is above a cap.
pub(crate) fn initial(market: Market, config: &L1SenderConfig) -> Result<Fees, OverCap> {
    let tip = market.tip.min(config.max_priority_fee_per_gas);
    within(
        "max_fee_per_gas",
        market.base_fee.saturating_add(tip),
        config.max_fee_per_gas,
    )?;
    let max_fee = market
        .base_fee
        .saturating_mul(2)
        .saturating_add(tip)
        .min(config.max_fee_per_gas);
    let blob = match market.blob_base_fee {
        Some(blob_base) => {
            within(
                "max_fee_per_blob_gas",
                blob_base,
                config.max_fee_per_blob_gas,
            )?;
            Some(
                blob_base
                    .saturating_mul(2)
                    .max(1)
                    .min(config.max_fee_per_blob_gas),
            )
        }
        None => None,
    };
    Ok(Fees {
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        max_fee_per_blob_gas: blob,
    })
}

/// The least a replacement must offer for `old` so nodes accept it: `percent` more, and at
/// least one wei more (geth and reth compare against `old × (100 + percent) / 100`).
fn bump(old: u128, percent: u128) -> u128 {
    old.saturating_add((old.saturating_mul(percent)).div_ceil(100).max(1))
}

/// Replacement bump in percent: geth's legacy pool and reth ask 10% more max fee and tip;
/// for blob transactions (geth's blobpool, reth) 100% more of all three fee fields.
pub(crate) const fn bump_percent(blob: bool) -> u128 {
    if blob { 100 } else { 10 }
}

/// The fees of a replacement for a transaction with fees `old`: the bumped old fees or the
/// market's (see [`initial`]), whichever is higher, field by field. Fails when that is above a
/// cap: the transaction then stays as it is.
pub(crate) fn replacement(
    old: Fees,
    market: Market,
    config: &L1SenderConfig,
) -> Result<Fees, OverCap> {
    let percent = bump_percent(old.max_fee_per_blob_gas.is_some());
    let fresh = initial(market, config)?;
    let tip = within(
        "max_priority_fee_per_gas",
        bump(old.max_priority_fee_per_gas, percent).max(fresh.max_priority_fee_per_gas),
        config.max_priority_fee_per_gas,
    )?;
    let max_fee = within(
        "max_fee_per_gas",
        bump(old.max_fee_per_gas, percent)
            .max(fresh.max_fee_per_gas)
            .max(tip),
        config.max_fee_per_gas,
    )?;
    let blob = match old.max_fee_per_blob_gas {
        Some(old_blob) => Some(within(
            "max_fee_per_blob_gas",
            bump(old_blob, percent).max(fresh.max_fee_per_blob_gas.unwrap_or(0)),
            config.max_fee_per_blob_gas,
        )?),
        None => None,
    };
    Ok(Fees {
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        max_fee_per_blob_gas: blob,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u128 = 1_000_000_000;

    fn config() -> L1SenderConfig {
        L1SenderConfig {
            max_fee_per_gas: 100 * GWEI,
            max_priority_fee_per_gas: 5 * GWEI,
            max_fee_per_blob_gas: 50 * GWEI,
            ..L1SenderConfig::default()
        }
    }

    #[test]
    fn initial_fees_are_twice_the_base_fee_plus_the_tip_capped() {
        let market = Market {
            base_fee: 10 * GWEI,
            tip: 2 * GWEI,
            blob_base_fee: Some(3),
        };
        let fees = initial(market, &config()).unwrap();
        assert_eq!(fees.max_fee_per_gas, 22 * GWEI);
        assert_eq!(fees.max_priority_fee_per_gas, 2 * GWEI);
        assert_eq!(fees.max_fee_per_blob_gas, Some(6));

        // Tip above its cap: capped. 2 × base above the cap: capped, since base + tip fits.
        let market = Market {
            base_fee: 60 * GWEI,
            tip: 9 * GWEI,
            blob_base_fee: None,
        };
        let fees = initial(market, &config()).unwrap();
        assert_eq!(fees.max_priority_fee_per_gas, 5 * GWEI);
        assert_eq!(fees.max_fee_per_gas, 100 * GWEI);
        assert_eq!(fees.max_fee_per_blob_gas, None);
    }

    #[test]
    fn fees_above_the_caps_are_refused() {
        let market = Market {
            base_fee: 99 * GWEI,
            tip: 2 * GWEI,
            blob_base_fee: None,
        };
        let over = initial(market, &config()).unwrap_err();
        assert_eq!(
            over,
            OverCap {
                field: "max_fee_per_gas",
                needed: 101 * GWEI,
                cap: 100 * GWEI
            }
        );
        let market = Market {
            base_fee: GWEI,
            tip: GWEI,
            blob_base_fee: Some(51 * GWEI),
        };
        assert_eq!(
            initial(market, &config()).unwrap_err().field,
            "max_fee_per_blob_gas"
        );
    }

    #[test]
    fn replacements_bump_ten_percent_or_double_for_blobs() {
        let market = Market {
            base_fee: GWEI,
            tip: GWEI,
            blob_base_fee: None,
        };
        let old = Fees {
            max_fee_per_gas: 3 * GWEI,
            max_priority_fee_per_gas: GWEI,
            max_fee_per_blob_gas: None,
        };
        let new = replacement(old, market, &config()).unwrap();
        assert_eq!(new.max_fee_per_gas, 3 * GWEI + 3 * GWEI / 10);
        assert_eq!(new.max_priority_fee_per_gas, GWEI + GWEI / 10);

        let old_blob = Fees {
            max_fee_per_blob_gas: Some(7),
            ..old
        };
        let market = Market {
            blob_base_fee: Some(1),
            ..market
        };
        let new = replacement(old_blob, market, &config()).unwrap();
        assert_eq!(new.max_fee_per_gas, 6 * GWEI);
        assert_eq!(new.max_priority_fee_per_gas, 2 * GWEI);
        assert_eq!(new.max_fee_per_blob_gas, Some(14));

        // A zero tip still goes up (by one wei), and the market wins when it is higher.
        let old = Fees {
            max_fee_per_gas: GWEI,
            max_priority_fee_per_gas: 0,
            max_fee_per_blob_gas: None,
        };
        let market = Market {
            base_fee: 20 * GWEI,
            tip: GWEI,
            blob_base_fee: None,
        };
        let new = replacement(old, market, &config()).unwrap();
        assert_eq!(new.max_priority_fee_per_gas, GWEI);
        assert_eq!(new.max_fee_per_gas, 41 * GWEI);
    }

    #[test]
    fn replacements_never_pass_the_caps() {
        let market = Market {
            base_fee: GWEI,
            tip: GWEI,
            blob_base_fee: Some(1),
        };
        let old = Fees {
            max_fee_per_gas: 95 * GWEI,
            max_priority_fee_per_gas: GWEI,
            max_fee_per_blob_gas: None,
        };
        assert_eq!(
            replacement(old, market, &config()).unwrap_err().field,
            "max_fee_per_gas"
        );
        let old = Fees {
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: 3 * GWEI,
            max_fee_per_blob_gas: Some(1),
        };
        assert_eq!(
            replacement(old, market, &config()).unwrap_err().field,
            "max_priority_fee_per_gas"
        );
        let old = Fees {
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
            max_fee_per_blob_gas: Some(30 * GWEI),
        };
        assert_eq!(
            replacement(old, market, &config()).unwrap_err().field,
            "max_fee_per_blob_gas"
        );
    }
}
