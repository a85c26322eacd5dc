#!/usr/bin/env node
// Compile the Solidity sources under contracts/ with solcjs (tools/node_modules) and write one
// artifact per contract to contracts/artifacts/NAME.json: ABI, creation and deployed bytecode.
// It also records the storage layout of each upgradeable L1 contract (under l1/, with
// `upgradeToAndCall` and bytecode) in contracts/layouts/NAME.json, and refuses to (exit 1, nothing
// written) when the new layout moves, retypes, renames or removes a recorded variable: a new
// implementation may only append (contracts/check-layouts.js, docs/contracts.md "Storage layout").
// Usage: node contracts/compile.js [--out DIR] [--layouts DIR] [--accept-layout-break]
//   (from the repo root; needs `npm ci --prefix tools`)
// --out writes the artifacts to DIR instead (the test command compares them with the committed
// ones) and writes no layouts unless --layouts DIR is given too (the test command passes both and
// checks the layouts with check-layouts.js). --accept-layout-break records an incompatible layout
// anyway: only for contracts that were never deployed to a chain that matters.
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'tools', 'node_modules', 'solc'));
const { minimalLayout, compareLayouts } = require('./check-layouts.js');

const root = __dirname;
const nodeModules = path.join(root, '..', 'tools', 'node_modules');
const dirs = ['bench', 'l1', 'l2', 'test'];
const sources = {};
for (const dir of dirs) {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) continue;
  for (const f of fs.readdirSync(full).filter((f) => f.endsWith('.sol')).sort()) {
    sources[`${dir}/${f}`] = { content: fs.readFileSync(path.join(full, f), 'utf8') };
  }
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'storageLayout'] },
    },
  },
};
function findImports(p) {
  for (const base of [root, nodeModules]) {
    const f = path.join(base, p);
    if (fs.existsSync(f)) return { contents: fs.readFileSync(f, 'utf8') };
  }
  return { error: `not found: ${p}` };
}
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
function flag(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? path.resolve(process.argv[i + 1]) : undefined;
}
const outDir = flag('--out') || path.join(root, 'artifacts');
const baselineDir = path.join(root, 'layouts');
const layoutsDir = flag('--layouts') || (flag('--out') ? undefined : baselineDir);

// The storage layouts of the upgradeable contracts, checked against the recorded ones before
// anything is written.
const layouts = {};
for (const [file, contracts] of Object.entries(out.contracts)) {
  if (!Object.prototype.hasOwnProperty.call(sources, file) || !file.startsWith('l1/')) continue;
  for (const [name, c] of Object.entries(contracts)) {
    const upgradeable = c.abi.some((f) => f.type === 'function' && f.name === 'upgradeToAndCall');
    if (!upgradeable || !c.evm.bytecode.object) continue;
    layouts[name] = {
      contractName: name,
      source: `contracts/${file}`,
      note: 'storage layout of the implementation (ERC-7201 namespaced storage of OpenZeppelin is not listed); only appends are compatible',
      storage: minimalLayout(c.storageLayout),
    };
  }
}
if (layoutsDir === baselineDir) {
  const problems = [];
  for (const [name, layout] of Object.entries(layouts)) {
    const recorded = path.join(baselineDir, `${name}.json`);
    if (!fs.existsSync(recorded)) continue;
    const baseline = JSON.parse(fs.readFileSync(recorded, 'utf8')).storage;
    problems.push(...compareLayouts(name, baseline, layout.storage));
  }
  if (problems.length) {
    const accept = process.argv.includes('--accept-layout-break');
    console.error(`${accept ? 'warning' : 'error'}: the storage layout of an upgradeable contract changed incompatibly with contracts/layouts:`);
    for (const p of problems) console.error(`  ${p}`);
    if (!accept) {
      console.error('Nothing written. Keep existing state variables where they are and add new ones after the last ' +
        '(docs/contracts.md, "Storage layout"); --accept-layout-break records the new layout anyway.');
      process.exit(1);
    }
  }
}

fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(out.contracts)) {
  if (!Object.prototype.hasOwnProperty.call(sources, file)) continue;
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      source: `contracts/${file}`,
      compiler: `solcjs ${solc.version()}, optimizer 200 runs, evm cancun`,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 1) + '\n');
    console.log(`wrote ${path.join(outDir, `${name}.json`)}`);
  }
}
if (layoutsDir) {
  fs.mkdirSync(layoutsDir, { recursive: true });
  for (const [name, layout] of Object.entries(layouts)) {
    fs.writeFileSync(path.join(layoutsDir, `${name}.json`), JSON.stringify(layout, null, 1) + '\n');
    console.log(`wrote ${path.join(layoutsDir, `${name}.json`)}`);
  }
}
