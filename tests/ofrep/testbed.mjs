// flagd-testbed's evaluator suite (tests/ofrep/testbed/evaluator/gherkin/*.feature, upstream's
// own expected results) run against a Slipway daemon serving the suite's flag file
// (testbed/evaluator/flags/testkit-flags.json), through both published OFREP providers:
// @openfeature/ofrep-provider with the server SDK and @openfeature/ofrep-web-provider with the
// web SDK. tests/ofrep/run.sh starts the daemon and passes its address and read token:
//   SLIPWAY_OFREP_URL=http://127.0.0.1:PORT SLIPWAY_FLAGS_TOKEN=... node tests/ofrep/testbed.mjs
// Prints the pass count per provider and every failure. Exit 0 when every scenario passes
// except the expected failures listed below (each with its reason); exit 1 when an unlisted one
// fails or a listed one passes (so the list cannot go stale), 2 on a broken harness.
//
// The feature files are read by a small reader of the Gherkin subset they use: tags, Feature,
// Background, Scenario, Scenario Outline with Examples tables, steps with a data table, and
// comments. Each example row is one scenario.
import { readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { OpenFeature as ServerOF } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature as WebOF } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const baseUrl = process.env.SLIPWAY_OFREP_URL;
const token = process.env.SLIPWAY_FLAGS_TOKEN;
const featureDir = new URL('./testbed/evaluator/gherkin/', import.meta.url);

// Scenario id (FILE:LINE of its example row, or of the Scenario line) -> why it fails, per
// provider. The title is checked too, so a vendored file that moves lines cannot silently
// re-point an entry.
const noValueServer =
  'the server provider (@openfeature/ofrep-provider 0.1.3, the only version the registry has) ' +
  'requires `value` in a 200 answer; flagd, and Slipway with it, answers a disabled flag and ' +
  'a flag without a default variant without `value`, which OFREP\'s schema defines as ' +
  '"codeDefaultFlag: the provider must use the code default value" (open-feature/protocol ' +
  'service/openapi.yaml) and the web provider reads so. The server SDK reports it as an error ' +
  '(reason ERROR); no server answer can carry the caller\'s default, which the request lacks.';
const fractionalV1 =
  '@fractional-v1 examples expect the legacy float bucketing; flagd (and Slipway) bucket with ' +
  'the @fractional-v2 integer algorithm, whose examples for the same scenario pass';
const expectedFailures = {
  'disabled.feature:18': { title: 'disabled flag', server: noValueServer },
  'disabled.feature:19': { title: 'disabled flag', server: noValueServer },
  'disabled.feature:20': { title: 'disabled flag', server: noValueServer },
  'disabled.feature:21': { title: 'disabled flag', server: noValueServer },
  'disabled.feature:22': { title: 'disabled flag', server: noValueServer },
  'no-default-variant.feature:18': { title: 'no default variant', server: noValueServer },
  'no-default-variant.feature:19': { title: 'no default variant', server: noValueServer },
  'no-default-variant.feature:20': { title: 'no default variant', server: noValueServer },
  'no-default-variant.feature:21': { title: 'no default variant', server: noValueServer },
  'no-default-variant.feature:23': { title: 'no default variant', server: noValueServer },
};
// The @fractional-v1 rows that the v2 algorithm answers differently (the other v1 rows expect
// what v2 answers too, and pass).
const fractionalV1Failing = {
  'fractional.feature': [20, 21, 22, 23, 24, 63, 65, 92, 94],
};
for (const [file, lines] of Object.entries(fractionalV1Failing)) {
  for (const line of lines) {
    expectedFailures[`${file}:${line}`] = { title: 'Fractional', server: fractionalV1, web: fractionalV1 };
  }
}

// ---- A reader for the Gherkin subset the evaluator features use.

function splitRow(line) {
  // | a | b\|c | -> ['a', 'b|c']; Gherkin's cell escapes are \|, \\ and \n.
  const cells = [];
  let cur = '';
  const body = line.trim().replace(/^\|/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && i + 1 < body.length && '|\\n'.includes(body[i + 1])) {
      const n = body[++i];
      cur += n === 'n' ? '\n' : n;
    } else if (c === '|') {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  return cells;
}

function parseFeature(file, text) {
  const lines = text.split('\n');
  const scenarios = [];
  let featureTags = [];
  let pendingTags = [];
  let background = [];
  let current = null;  // {kind, title, tags, line, steps, examples: [{tags, name, header, rows}]}
  let target = null;   // where steps go: background or current
  let examples = null;
  let lastStep = null;
  const finish = () => {
    if (!current) return;
    if (current.kind === 'Scenario') {
      scenarios.push({ id: `${file}:${current.line}`, title: current.title, tags: current.tags,
                       steps: [...background, ...current.steps] });
    } else {
      for (const ex of current.examples) {
        for (const row of ex.rows) {
          const sub = (s) => s.replace(/<([^>]+)>/g, (m, k) => (k in row.values ? row.values[k] : m));
          const steps = [...background, ...current.steps].map((st) => ({
            text: sub(st.text), table: st.table && st.table.map((r) => r.map(sub)) }));
          scenarios.push({ id: `${file}:${row.line}`, title: current.title,
                           tags: [...current.tags, ...ex.tags],
                           example: Object.values(row.values).join(', '), steps });
        }
      }
    }
    current = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const t = lines[i].trim();
    if (t === '' || t.startsWith('#')) continue;
    if (t.startsWith('@')) {
      pendingTags.push(...t.split(/\s+/).filter((x) => x.startsWith('@')));
      continue;
    }
    let m;
    if ((m = t.match(/^Feature:(.*)$/))) {
      featureTags = pendingTags;
      pendingTags = [];
    } else if (t.startsWith('Background:')) {
      finish();
      background = [];
      target = background;
      lastStep = null;
    } else if ((m = t.match(/^(Scenario Outline|Scenario Template|Scenario|Example):(.*)$/))) {
      finish();
      const kind = m[1] === 'Scenario' || m[1] === 'Example' ? 'Scenario' : 'Outline';
      current = { kind, title: m[2].trim(), tags: [...featureTags, ...pendingTags], line: lineNo,
                  steps: [], examples: [] };
      pendingTags = [];
      target = current.steps;
      examples = null;
      lastStep = null;
    } else if ((m = t.match(/^(Examples|Scenarios):(.*)$/))) {
      if (!current || current.kind !== 'Outline') throw new Error(`${file}:${lineNo}: Examples outside an outline`);
      examples = { tags: pendingTags, name: m[2].trim(), header: null, rows: [] };
      pendingTags = [];
      current.examples.push(examples);
      lastStep = null;
    } else if ((m = t.match(/^(Given|When|Then|And|But|\*)\s+(.*)$/))) {
      if (!target) throw new Error(`${file}:${lineNo}: a step outside a scenario`);
      lastStep = { text: m[2], table: null, line: lineNo };
      target.push(lastStep);
      examples = null;
    } else if (t.startsWith('|')) {
      const cells = splitRow(t);
      if (examples) {
        if (!examples.header) {
          examples.header = cells;
        } else {
          const values = {};
          examples.header.forEach((h, j) => { values[h] = cells[j] ?? ''; });
          examples.rows.push({ line: lineNo, values });
        }
      } else if (lastStep) {
        (lastStep.table ??= []).push(cells);
      } else {
        throw new Error(`${file}:${lineNo}: a table row outside Examples or a step`);
      }
    } else {
      throw new Error(`${file}:${lineNo}: not understood: ${t}`);
    }
  }
  finish();
  return scenarios;
}

// ---- Steps.

// A quoted step argument: "..." with \" inside (the feature files escape quotes in JSON cells).
const Q = '"((?:[^"\\\\]|\\\\.)*)"';
const unq = (s) => s.replace(/\\(.)/g, '$1');

function typed(type, text) {
  switch (type) {
    case 'Boolean': return text === 'true';
    case 'Integer': return Number.parseInt(text, 10);
    case 'Float': return Number.parseFloat(text);
    case 'Object': return JSON.parse(text);
    case 'String': return text;
    default: throw new Error(`unknown type ${type}`);
  }
}

const steps = [
  [/^an evaluator$/, () => {}],
  [new RegExp(`^a (Boolean|String|Integer|Float|Object)-flag with key ${Q} and a fallback value ${Q}$`),
    (w, type, key, dflt) => { w.type = type; w.key = unq(key); w.fallback = typed(type, unq(dflt)); }],
  [new RegExp(`^a context containing a key ${Q}, with type ${Q} and with value ${Q}$`),
    (w, key, type, value) => { w.context[unq(key)] = typed(unq(type), unq(value)); }],
  [new RegExp(`^a context containing a nested property with outer key ${Q} and inner key ${Q}, with value ${Q}$`),
    (w, outer, inner, value) => { (w.context[unq(outer)] ??= {})[unq(inner)] = unq(value); }],
  [new RegExp(`^a context containing a targeting key with value ${Q}$`),
    (w, value) => { w.context.targetingKey = unq(value); }],
  [/^the flag was evaluated with details$/, async (w) => { w.details = await w.evaluate(w); }],
  [new RegExp(`^the resolved details value should be ${Q}$`), (w, value) => {
    const want = typed(w.type, unq(value));
    if (!isDeepStrictEqual(w.details.value, want)) {
      throw new Error(`value ${JSON.stringify(w.details.value)}, expected ${JSON.stringify(want)}`);
    }
  }],
  [new RegExp(`^the reason should be ${Q}$`), (w, reason) => {
    if (w.details.reason !== unq(reason)) {
      const err = w.details.errorCode ? ` (${w.details.errorCode}: ${w.details.errorMessage})` : '';
      throw new Error(`reason ${w.details.reason}${err}, expected ${unq(reason)}`);
    }
  }],
  [new RegExp(`^the error-code should be ${Q}$`), (w, code) => {
    if (w.details.errorCode !== unq(code)) {
      throw new Error(`error code ${w.details.errorCode}, expected ${unq(code)}`);
    }
  }],
  [/^the resolved metadata should contain$/, (w, table) => {
    const [header, ...rows] = table;
    for (const row of rows) {
      const r = Object.fromEntries(header.map((h, j) => [h, row[j]]));
      const got = (w.details.flagMetadata ?? {})[r.key];
      const want = typed(r.metadata_type, r.value);
      if (got !== want) throw new Error(`metadata ${r.key} ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  }],
  [/^the resolved metadata is empty$/, (w) => {
    const m = w.details.flagMetadata ?? {};
    if (Object.keys(m).length !== 0) throw new Error(`metadata ${JSON.stringify(m)}, expected none`);
  }],
];

async function runScenario(sc, evaluate) {
  const w = { context: {}, evaluate };
  for (const st of sc.steps) {
    const found = steps.find(([re]) => re.test(st.text));
    if (!found) throw new Error(`no step matches: ${st.text}`);
    const args = st.text.match(found[0]).slice(1);
    await found[1](w, ...args, ...(st.table ? [st.table] : []));
  }
}

// ---- Providers.

const headers = [['Authorization', `Bearer ${token}`]];
const method = { Boolean: 'getBooleanDetails', String: 'getStringDetails', Integer: 'getNumberDetails',
                 Float: 'getNumberDetails', Object: 'getObjectDetails' };

async function serverProvider() {
  await ServerOF.setProviderAndWait('testbed', new OFREPProvider({ baseUrl, headers }));
  const client = ServerOF.getClient('testbed');
  return (w) => client[method[w.type]](w.key, w.fallback, w.context);
}

async function webProvider() {
  // No polling: each scenario sets its context, which the provider evaluates in bulk.
  const provider = new OFREPWebProvider({ baseUrl, headers, pollInterval: 0 });
  await WebOF.setProviderAndWait(provider);
  const client = WebOF.getClient();
  return async (w) => {
    await WebOF.setContext(w.context);
    return client[method[w.type]](w.key, w.fallback);
  };
}

// ---- Main.

async function main() {
  if (process.argv[2] === '--list') {
    // The scenarios as read, one per line (to write the expected-failure list).
    for (const f of readdirSync(featureDir).filter((n) => n.endsWith('.feature')).sort()) {
      for (const sc of parseFeature(f, readFileSync(new URL(f, featureDir), 'utf8'))) {
        console.log(`${sc.id} ${sc.tags.join(' ')} ${sc.title}${sc.example ? ` [${sc.example}]` : ''}`);
      }
    }
    return 0;
  }
  if (!baseUrl || !token) {
    console.error('testbed: SLIPWAY_OFREP_URL and SLIPWAY_FLAGS_TOKEN must be set (tests/ofrep/run.sh)');
    return 2;
  }
  const scenarios = [];
  for (const f of readdirSync(featureDir).filter((n) => n.endsWith('.feature')).sort()) {
    scenarios.push(...parseFeature(f, readFileSync(new URL(f, featureDir), 'utf8')));
  }
  const ids = new Set(scenarios.map((s) => s.id));
  let broken = false;
  for (const [id, e] of Object.entries(expectedFailures)) {
    const sc = scenarios.find((s) => s.id === id);
    if (!sc || !sc.title.toLowerCase().includes(e.title.toLowerCase())) {
      console.error(`testbed: expected failure ${id} (${e.title}) names no such scenario`);
      broken = true;
    }
  }
  if (ids.size !== scenarios.length || broken) return 2;

  let rc = 0;
  for (const [name, make] of [['server', serverProvider], ['web', webProvider]]) {
    const evaluate = await make();
    let passed = 0;
    let expected = 0;
    for (const sc of scenarios) {
      const label = `${sc.id} ${sc.title}${sc.example ? ` [${sc.example}]` : ''}`;
      let error = null;
      try {
        await runScenario(sc, evaluate);
      } catch (e) {
        error = e;
      }
      const why = expectedFailures[sc.id]?.[name];
      if (!error) {
        passed++;
        if (why) {
          console.log(`${name}: UNEXPECTED PASS ${label} (listed as failing: ${why})`);
          rc = 1;
        }
      } else if (why) {
        expected++;
        console.log(`${name}: expected failure ${label}: ${error.message}`);
      } else {
        console.log(`${name}: FAIL ${label}: ${error.message}`);
        rc = 1;
      }
    }
    console.log(`${name}: ${passed} of ${scenarios.length} scenarios passed, ${expected} expected ` +
                `failure(s), ${scenarios.length - passed - expected} unexpected`);
  }
  await ServerOF.close();
  await WebOF.close();
  return rc;
}

main().then((rc) => { process.exitCode = rc; }, (e) => {
  console.error(`testbed: ${e.stack || e}`);
  process.exitCode = 2;
});
