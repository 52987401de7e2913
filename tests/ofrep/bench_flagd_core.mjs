// The Node half of bench/flags.sh: @openfeature/flagd-core's evaluator on the same flags and
// contexts as FlagsBench.DISABLED_Evaluate (src/flags/bench_flags_test.cc), same output lines.
//   node bench_flagd_core.mjs FLAGS.json CONTEXTS.json name=flag,... [seconds]
import { readFileSync } from 'node:fs';
import { FlagdCore } from '@openfeature/flagd-core';

const [flagsPath, contextsPath, casesArg, secondsArg] = process.argv.slice(2);
if (!flagsPath || !contextsPath || !casesArg) {
  console.error('usage: bench_flagd_core.mjs FLAGS.json CONTEXTS.json name=flag,... [seconds]');
  process.exit(2);
}
const seconds = Number(secondsArg ?? 1);
const core = new FlagdCore();
core.setConfigurations(readFileSync(flagsPath, 'utf8'));
const contexts = JSON.parse(readFileSync(contextsPath, 'utf8'));
// flagd-core logs every resolution error; the bench flags resolve without errors.
const logger = { error() {}, warn() {}, info() {}, debug() {} };

// The type-specific resolver of a flag, picked from its variants like the SDK would.
function resolver(key) {
  const v = Object.values(JSON.parse(readFileSync(flagsPath, 'utf8')).flags[key].variants)[0];
  const type = typeof v === 'object' ? 'Object' : typeof v === 'boolean' ? 'Boolean'
    : typeof v === 'number' ? 'Number' : 'String';
  const fn = core[`resolve${type}Evaluation`].bind(core);
  const dflt = type === 'Object' ? {} : type === 'Boolean' ? false : type === 'Number' ? 0 : '';
  return (ctx) => fn(key, dflt, ctx, logger);
}

for (const item of casesArg.split(',')) {
  const [name, key] = item.split('=');
  const resolve = resolver(key);
  const variants = {};
  for (const c of contexts) {
    const r = resolve(c);
    if (r.reason === 'ERROR') throw new Error(`${key}: ${r.errorCode} ${r.errorMessage ?? ''}`);
    const v = r.variant ?? '(none)';
    variants[v] = (variants[v] ?? 0) + 1;
  }
  let sink = 0;
  for (const c of contexts) sink += resolve(c).variant ? 1 : 0;  // warm-up pass (JIT)
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let end;
  do {
    for (const c of contexts) sink += resolve(c).variant ? 1 : 0;
    n += contexts.length;
    end = process.hrtime.bigint();
  } while (end - start < budget);
  const elapsed = Number(end - start) / 1e9;
  console.log(JSON.stringify({ case: name, flag: key, evals_per_s: n / elapsed, variants, sink }));
}
