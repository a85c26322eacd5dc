#!/usr/bin/env node
// Compile the Solidity sources under contracts/ with solcjs (tools/node_modules) and write one
// artifact per contract to contracts/artifacts/NAME.json: ABI, creation and deployed bytecode.
// Usage: node contracts/compile.js [--out DIR]   (from the repo root; needs `npm ci --prefix tools`)
// --out writes the artifacts to DIR instead (the test command compares them with the committed ones).
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'tools', 'node_modules', 'solc'));

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
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
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
const outFlag = process.argv.indexOf('--out');
const outDir = outFlag > 0 ? path.resolve(process.argv[outFlag + 1]) : path.join(root, 'artifacts');
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
