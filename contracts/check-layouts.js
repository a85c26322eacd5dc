#!/usr/bin/env node
// Storage-layout check of the upgradeable L1 contracts (docs/contracts.md, "Storage layout").
//
// `node contracts/compile.js` records each upgradeable contract's storage layout in
// contracts/layouts/NAME.json (one entry per state variable: label, slot, offset, type, where the
// type of a mapping, struct or array spells out its parts, so a retyped member is seen). A new
// implementation must keep every recorded entry where and what it was; appending variables after
// the last one is fine.
//
// Usage: node contracts/check-layouts.js FRESH_DIR [BASELINE_DIR]
//   FRESH_DIR     layouts of a fresh compile (`node contracts/compile.js --out A --layouts FRESH_DIR`)
//   BASELINE_DIR  the recorded layouts (default: contracts/layouts)
// Exits 1 naming the contract, the variable and its old and new slot/offset/type when an entry
// was removed, moved, retyped or renamed (a rename in place is reported too: it is how a swap of
// two variables of the same type shows); 0 otherwise.
const fs = require('fs');
const path = require('path');

/// The stable, minimal form of solc's `storageLayout` output: one entry per variable.
function minimalLayout(storageLayout) {
  const types = storageLayout.types || {};
  return (storageLayout.storage || []).map((v) => ({
    label: v.label,
    slot: v.slot,
    offset: v.offset,
    type: typeName(types, v.type),
  }));
}

/// A type spelled out: mappings by key and value, arrays by element and length, structs by their
/// members with each member's slot (relative to the struct) and offset; other types by solc's label
/// and size.
function typeName(types, id, depth = 0) {
  const t = types[id];
  if (!t) return id;
  if (depth > 16) return t.label; // recursive structs (through mappings or arrays) stop here
  if (t.encoding === 'mapping') {
    return `mapping(${typeName(types, t.key, depth + 1)} => ${typeName(types, t.value, depth + 1)})`;
  }
  if (t.members) {
    const members = t.members
      .map((m) => `${typeName(types, m.type, depth + 1)} ${m.label} @${m.slot}+${m.offset}`)
      .join('; ');
    return `${t.label} { ${members} }`;
  }
  if (t.base) {
    const length = /\[(\d*)\]$/.exec(t.label);
    return `${typeName(types, t.base, depth + 1)}[${length ? length[1] : '?'}]`;
  }
  return t.encoding === 'inplace' && !/^(u?int\d+|bool|address|bytes\d+)$/.test(t.label)
    ? `${t.label} (${t.numberOfBytes} bytes)`
    : t.label;
}

function describe(e) {
  return `\`${e.label}\` at slot ${e.slot} offset ${e.offset}, type ${e.type}`;
}

/// The incompatibilities of `fresh` with the recorded `baseline` layout of `contract`: every
/// recorded entry must be unchanged at the same position; entries after the recorded ones are
/// appends and fine.
function compareLayouts(contract, baseline, fresh) {
  const problems = [];
  baseline.forEach((old, i) => {
    const now = fresh[i];
    if (!now) {
      problems.push(`${contract}: ${describe(old)} was removed (the new layout has ${fresh.length} variables, the recorded one ${baseline.length})`);
      return;
    }
    const what = [];
    if (now.slot !== old.slot || now.offset !== old.offset) what.push('moved');
    if (now.type !== old.type) what.push('retyped');
    if (now.label !== old.label) what.push('renamed or reordered');
    if (what.length) {
      problems.push(`${contract}: variable #${i} ${what.join(', ')}: was ${describe(old)}; now ${describe(now)}`);
    }
  });
  return problems;
}

/// Compares every layout in `baselineDir` with the one of the same name in `freshDir`.
function compareDirs(freshDir, baselineDir) {
  const problems = [];
  const files = fs.existsSync(baselineDir) ? fs.readdirSync(baselineDir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const file of files) {
    const contract = path.basename(file, '.json');
    const baseline = JSON.parse(fs.readFileSync(path.join(baselineDir, file), 'utf8'));
    const freshFile = path.join(freshDir, file);
    if (!fs.existsSync(freshFile)) {
      problems.push(`${contract}: has a recorded layout but is no longer an upgradeable contract`);
      continue;
    }
    const fresh = JSON.parse(fs.readFileSync(freshFile, 'utf8'));
    problems.push(...compareLayouts(contract, baseline.storage, fresh.storage));
  }
  return problems;
}

module.exports = { minimalLayout, compareLayouts, compareDirs };

if (require.main === module) {
  const [freshDir, baselineDir = path.join(__dirname, 'layouts')] = process.argv.slice(2);
  if (!freshDir) {
    console.error('usage: node contracts/check-layouts.js FRESH_DIR [BASELINE_DIR]');
    process.exit(2);
  }
  const problems = compareDirs(path.resolve(freshDir), path.resolve(baselineDir));
  if (problems.length) {
    console.error('error: the storage layout of an upgradeable contract changed incompatibly with contracts/layouts:');
    for (const p of problems) console.error(`  ${p}`);
    console.error('Keep existing state variables where they are and add new ones after the last (docs/contracts.md, "Storage layout").');
    process.exit(1);
  }
  console.log(`storage layouts compatible with ${path.relative(process.cwd(), path.resolve(baselineDir)) || '.'}`);
}
