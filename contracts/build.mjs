// Compile contracts/src with the pinned solc-js and write one deterministic
// artifact per top-level contract to contracts/artifacts/<Name>.json.
//
//   node build.mjs           rebuild the artifacts
//   node build.mjs --check   compile in memory; exit 1 listing every artifact that
//                            is missing, stale, or has no source any more
//
// Rules: every `src/*.sol` file defines one deployable contract named like the
// file; `src/lib/**` holds shared code that gets no artifact of its own. The
// compiler settings below are fixed so the same sources always give the same
// bytes; a warning fails the build like an error does.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, "src");
const OUT = join(HERE, "artifacts");

// cancun: PUSH0, MCOPY and transient storage; run by py-evm 0.12 (its default
// fork is Prague, a superset) and by anvil 1.7. Pinned, not left to the default.
export const SETTINGS = Object.freeze({
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  // No CBOR metadata tail: artifacts change only when code changes, not comments.
  metadata: { appendCBOR: false, bytecodeHash: "none" },
});

function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith(".sol") ? [path] : [];
    });
}

function sourceKey(path) {
  return relative(HERE, path).split(sep).join("/");
}

function compile() {
  const files = walk(SRC);
  const sources = {};
  for (const path of files) sources[sourceKey(path)] = { content: readFileSync(path, "utf8") };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors ?? []).filter((e) => e.severity !== "info");
  if (problems.length > 0) {
    for (const e of problems) console.error(e.formattedMessage ?? e.message);
    throw new Error(`solc reported ${problems.length} error(s)/warning(s)`);
  }

  const version = solc.version();
  const artifacts = new Map();
  for (const path of files) {
    if (dirname(path) !== SRC) continue; // src/lib/** gets no artifact
    const key = sourceKey(path);
    const name = key.slice("src/".length, -".sol".length);
    const contract = output.contracts?.[key]?.[name];
    if (!contract) throw new Error(`${key} must define a contract named ${name}`);
    // Hash every source this contract was compiled from (its imports included),
    // as listed by the compiler's own metadata, in a fixed order.
    const used = Object.keys(JSON.parse(contract.metadata).sources).sort();
    const hash = createHash("sha256");
    for (const dep of used) hash.update(`${dep}\0${sources[dep].content}\0`);
    const artifact = {
      contractName: name,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      compiler: { version, settings: SETTINGS },
      sourceHash: `sha256:${hash.digest("hex")}`,
    };
    artifacts.set(`${name}.json`, `${JSON.stringify(artifact, null, 2)}\n`);
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  if (!check) {
    mkdirSync(OUT, { recursive: true });
    for (const [file, text] of artifacts) writeFileSync(join(OUT, file), text);
    console.log(`wrote ${artifacts.size} artifacts to ${relative(process.cwd(), OUT) || "."}`);
    return 0;
  }
  const stale = [];
  for (const [file, text] of artifacts) {
    const path = join(OUT, file);
    if (!existsSync(path)) stale.push(`missing: artifacts/${file}`);
    else if (readFileSync(path, "utf8") !== text) stale.push(`differs from source: artifacts/${file}`);
  }
  const onDisk = existsSync(OUT) ? readdirSync(OUT).filter((f) => f.endsWith(".json")) : [];
  for (const file of onDisk) if (!artifacts.has(file)) stale.push(`no source: artifacts/${file}`);
  if (stale.length > 0) {
    console.error("contract artifacts are out of date (run `make contracts`):");
    for (const line of stale.sort()) console.error(`  ${line}`);
    return 1;
  }
  console.log(`${artifacts.size} artifacts match their sources`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(`build failed: ${err.message}`);
  process.exitCode = 2;
}
