// Validates every object of the `slipway export kubernetes` golden files
// (src/export/testdata/*.yaml, kept equal to the real output by export_tests)
// against the Kubernetes 1.27 schemas of kubernetes-models, the Argo
// Rollouts objects against @kubernetes-models/argo-rollouts, and the operators'
// custom resources (OpenFeature FeatureFlag/FeatureFlagSource/Flagd,
// prometheus-operator PrometheusRule) against the CRD schemas vendored in crds/.
// Run: npm ci && node --test  (ctest runs both, see k8s.cmake).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import yaml from "js-yaml";
import Ajv from "ajv";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const testdata = path.resolve(here, "../../src/export/testdata");
const crdDir = path.resolve(here, "crds");

// The API server prunes fields a structural schema does not declare, so an unknown field
// would be lost silently: here it is an error (additionalProperties: false wherever the
// schema lists properties and does not preserve unknown fields). x-kubernetes-int-or-string
// becomes an anyOf; an inline "(?i)" flag (Go regexp syntax, not JavaScript's) is dropped.
function structural(schema) {
  if (Array.isArray(schema)) return schema.map(structural);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "description") continue;
    if (k === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(v).map(([name, sub]) => [name, structural(sub)]),
      );
    } else if (k === "pattern" && typeof v === "string") {
      out.pattern = v.replaceAll("(?i)", "");
    } else {
      out[k] = structural(v);
    }
  }
  if (out["x-kubernetes-int-or-string"] && !out.anyOf) {
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (out.properties && !out["x-kubernetes-preserve-unknown-fields"] &&
      !("additionalProperties" in out)) {
    out.additionalProperties = false;
  }
  return out;
}

// "group/version Kind" → ajv validator of the vendored CRD's openAPIV3Schema.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const crdValidators = new Map();
for (const f of fs.readdirSync(crdDir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const crd of yaml.loadAll(fs.readFileSync(path.join(crdDir, f), "utf8"))) {
    if (!crd || crd.kind !== "CustomResourceDefinition") continue;
    for (const v of crd.spec.versions) {
      crdValidators.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`,
                        ajv.compile(structural(v.schema.openAPIV3Schema)));
    }
  }
}

// Metadata is not in a CRD's schema (the API server checks it): the name is a DNS label
// (as the export writes every name), label keys and values are valid.
function checkMetadata(doc, where) {
  const md = doc.metadata ?? {};
  assert.match(md.name ?? "", /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, `${where}: metadata.name`);
  for (const [k, v] of Object.entries(md.labels ?? {})) {
    assert.match(k, /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
                 `${where}: label key ${k}`);
    assert.match(v, /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/,
                 `${where}: label ${k} value`);
  }
}

// A custom resource against its vendored CRD schema; throws with ajv's errors.
function validateCustom(doc, where) {
  const validate = crdValidators.get(`${doc.apiVersion} ${doc.kind}`);
  assert.ok(validate, `${where}: no vendored CRD for ${doc.apiVersion} ${doc.kind}`);
  checkMetadata(doc, where);
  if (!validate(doc)) {
    const errs = validate.errors.map((e) =>
      `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`);
    assert.fail(`${where}: ${errs.join("; ")}`);
  }
}

// References between the operators' objects of one export: a FeatureFlagSource reads a
// FeatureFlag ("[namespace/]name") and a Flagd serves a FeatureFlagSource of the output.
function checkOperatorRefs(doc, docs, where) {
  const named = (kind, name) => docs.some((d) => d.kind === kind && d.metadata.name === name);
  if (doc.kind === "FeatureFlagSource") {
    for (const s of doc.spec.sources) {
      if (s.provider !== "kubernetes") continue;
      const [ns, name] = s.source.includes("/") ? s.source.split("/") : [undefined, s.source];
      if (ns !== undefined) assert.equal(ns, doc.metadata.namespace, `${where}: source namespace`);
      assert.ok(named("FeatureFlag", name), `${where}: no FeatureFlag ${name}`);
    }
  } else if (doc.kind === "Flagd") {
    assert.ok(named("FeatureFlagSource", doc.spec.featureFlagSource),
              `${where}: no FeatureFlagSource ${doc.spec.featureFlagSource}`);
  }
}

// apiVersion → the package module that holds its kinds.
function modelsFor(apiVersion) {
  if (apiVersion === "argoproj.io/v1alpha1") {
    return require("@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1");
  }
  return require(`kubernetes-models/${apiVersion}`);
}

const goldens = fs
  .readdirSync(testdata)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith("-kustomization.yaml"))
  .sort();

test("golden files exist", () => {
  assert.ok(goldens.length >= 5, `only ${goldens.length} golden files in ${testdata}`);
});

const allowedKinds = new Set([
  "ConfigMap", "Secret", "Job", "CronJob", "Deployment", "Service", "Ingress",
  "Rollout", "AnalysisTemplate", "FeatureFlag", "FeatureFlagSource", "Flagd", "PrometheusRule",
]);

// Variable names that say they hold a secret (a subset of base/redact.h's IsSecretName:
// a name ending in a qualifier such as _FILE or _PATH names where the secret is, not the
// secret) and URL passwords: neither may be in a ConfigMap.
const secretWord = /(PASSWORD|PASSWD|PASSPHRASE|SECRETS?$|TOKENS?$|API_?KEY|PRIVATE_?KEY|_KEY$|_DSN$)/i;
const qualifier = /_(FILE|PATH|DIR|TTL|TIMEOUT|EXPIRY|LENGTH|MIN|MAX|ENABLED|URL|URI|ENDPOINT|HEADER|NAME|ID|TYPE|MODE)$/i;
const secretName = { test: (k) => secretWord.test(k) && !qualifier.test(k) };
const urlPassword = /[a-z][a-z0-9+.-]*:\/\/[^\/\s:@]*:[^\/\s@]+@/i;

// The Argo Rollouts CRD models accept almost anything, so the structure the controller
// needs is checked by hand: one strategy, services and templates that exist in the same
// output, analysis arguments the template declares, metrics with a Prometheus query.
// `complete`: the file is a whole export (the renderer golden, extensions.yaml, shows
// objects on their own, so references to other objects are not checked there).
function checkArgo(doc, docs, where, complete = true) {
  assert.equal(doc.apiVersion, "argoproj.io/v1alpha1", `${where}: apiVersion`);
  assert.ok(doc.metadata?.name, `${where}: metadata.name`);
  const named = (kind, name) =>
    !complete || docs.some((d) => d.kind === kind && d.metadata.name === name);
  if (doc.kind === "AnalysisTemplate") {
    const metrics = doc.spec?.metrics;
    assert.ok(Array.isArray(metrics) && metrics.length > 0, `${where}: spec.metrics`);
    const declared = new Set((doc.spec.args ?? []).map((a) => a.name));
    for (const m of metrics) {
      assert.ok(m.name, `${where}: metric name`);
      assert.ok(m.successCondition, `${where}: ${m.name}: successCondition`);
      assert.match(m.interval ?? "", /^[0-9]+(ms|s|m|h)$/, `${where}: ${m.name}: interval`);
      const prom = m.provider?.prometheus;
      assert.ok(prom?.address && prom?.query, `${where}: ${m.name}: prometheus address+query`);
      for (const [, arg] of prom.query.matchAll(/\{\{args\.([a-z-]+)\}\}/g)) {
        assert.ok(declared.has(arg), `${where}: ${m.name}: args.${arg} is not declared`);
      }
    }
    return;
  }
  assert.equal(doc.kind, "Rollout", `${where}: kind`);
  const spec = doc.spec;
  assert.ok(spec?.selector?.matchLabels, `${where}: spec.selector`);
  assert.ok(spec.template?.spec?.containers?.length > 0, `${where}: spec.template`);
  const kinds = Object.keys(spec.strategy ?? {});
  assert.equal(kinds.length, 1, `${where}: exactly one of blueGreen, canary`);
  assert.ok(["blueGreen", "canary"].includes(kinds[0]), `${where}: strategy ${kinds[0]}`);
  const st = spec.strategy[kinds[0]];
  const analyses = [];
  if (kinds[0] === "blueGreen") {
    assert.ok(st.activeService, `${where}: blueGreen.activeService`);
    assert.ok(named("Service", st.activeService), `${where}: no Service ${st.activeService}`);
    if (st.previewService) {
      assert.ok(named("Service", st.previewService), `${where}: no Service ${st.previewService}`);
      assert.notEqual(st.previewService, st.activeService, `${where}: preview = active`);
    }
    for (const k of ["prePromotionAnalysis", "postPromotionAnalysis"]) {
      if (st[k]) analyses.push(st[k]);
    }
  } else {
    assert.ok(Array.isArray(st.steps) && st.steps.length > 0, `${where}: canary.steps`);
    for (const step of st.steps) {
      assert.equal(Object.keys(step).length, 1, `${where}: one action per step`);
      if ("setWeight" in step) {
        assert.ok(step.setWeight >= 0 && step.setWeight <= 100, `${where}: setWeight`);
      } else {
        assert.ok("pause" in step, `${where}: unknown step ${JSON.stringify(step)}`);
      }
    }
    for (const k of ["stableService", "canaryService"]) {
      if (st[k]) assert.ok(named("Service", st[k]), `${where}: no Service ${st[k]}`);
    }
    if (st.analysis) analyses.push(st.analysis);
  }
  for (const a of analyses) {
    for (const t of a.templates) {
      const tmpl = docs.find((d) => d.kind === "AnalysisTemplate" &&
                                    d.metadata.name === t.templateName);
      assert.ok(tmpl || !complete, `${where}: no AnalysisTemplate ${t.templateName}`);
      if (!tmpl) continue;
      const declared = (tmpl.spec.args ?? []).map((x) => x.name).sort();
      const passed = (a.args ?? []).map((x) => x.name).sort();
      assert.deepEqual(passed, declared, `${where}: args passed to ${t.templateName}`);
    }
  }
}

for (const file of goldens) {
  test(`${file}: every object is valid`, () => {
    const docs = yaml.loadAll(fs.readFileSync(path.join(testdata, file), "utf8")).filter(
      (d) => d !== null && d !== undefined,
    );
    assert.ok(docs.length > 0, "no objects");
    const names = new Set();
    for (const doc of docs) {
      const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
      assert.ok(allowedKinds.has(doc.kind), `${where}: unexpected kind`);
      if (crdValidators.has(`${doc.apiVersion} ${doc.kind}`)) {
        validateCustom(doc, where);
        if (file !== "extensions.yaml") checkOperatorRefs(doc, docs, where);
      } else {
        const Model = modelsFor(doc.apiVersion)[doc.kind];
        assert.ok(Model, `${where}: no model for ${doc.apiVersion} ${doc.kind}`);
        assert.doesNotThrow(() => new Model(doc).validate(), `${where}`);
      }
      if (doc.kind === "ConfigMap") {
        for (const [k, v] of Object.entries(doc.data ?? {})) {
          assert.ok(!secretName.test(k), `${where}: ${k} names a secret`);
          assert.doesNotMatch(v, urlPassword, `${where}: ${k} holds a URL password`);
        }
      }
      if (doc.apiVersion === "argoproj.io/v1alpha1") {
        checkArgo(doc, docs, where, file !== "extensions.yaml");
      }
      const key = `${doc.kind}/${doc.metadata.namespace ?? ""}/${doc.metadata.name}`;
      assert.ok(!names.has(key), `${where}: duplicate object`);
      names.add(key);
      // Workloads select their own pods.
      const spec = doc.kind === "CronJob" ? doc.spec.jobTemplate.spec : doc.spec;
      if (spec?.selector?.matchLabels) {
        const labels = spec.template.metadata.labels;
        for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
          assert.equal(labels[k], v, `${where}: selector ${k} does not match the pod`);
        }
      }
    }
  });
}

test("validation rejects a broken object (the check can fail)", () => {
  const { Deployment } = modelsFor("apps/v1");
  const bad = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: { spec: { containers: [{ name: "x", ports: [{ containerPort: "80" }] }] } },
    },
  };
  assert.throws(() => new Deployment(bad).validate());
});

test("every kind the export renders appears in a golden file", () => {
  const seen = new Set();
  for (const file of goldens) {
    for (const d of yaml.loadAll(fs.readFileSync(path.join(testdata, file), "utf8"))) {
      if (d) seen.add(d.kind);
    }
  }
  assert.deepEqual([...seen].sort(), [...allowedKinds].sort());
});

test("the hand-written Argo checks can fail", () => {
  const svc = { kind: "Service", metadata: { name: "web" } };
  const rollout = {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: "web" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: { spec: { containers: [{ name: "web" }] } },
      strategy: { blueGreen: { activeService: "web", previewService: "web-preview" } },
    },
  };
  assert.throws(() => checkArgo(rollout, [svc, rollout], "x"), /no Service web-preview/);
  const tmpl = {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AnalysisTemplate",
    metadata: { name: "t" },
    spec: {
      metrics: [{
        name: "e", interval: "30s", successCondition: "result[0] < 1",
        provider: { prometheus: { address: "http://p", query: "x{set=\"{{args.set}}\"}" } },
      }],
    },
  };
  assert.throws(() => checkArgo(tmpl, [tmpl], "x"), /args.set is not declared/);
});

test("kustomization golden lists only files that are rendered", () => {
  const k = yaml.load(fs.readFileSync(path.join(testdata, "shop-kustomization.yaml"), "utf8"));
  assert.equal(k.kind, "Kustomization");
  assert.ok(Array.isArray(k.resources) && k.resources.length > 0);
  for (const r of k.resources) assert.match(r, /^[a-z]+-[a-z0-9-]+\.yaml$/);
});

test("the vendored CRD schemas reject broken custom resources (the check can fail)", () => {
  const md = { name: "shop-flags-default" };
  const flag = { state: "ENABLED", variants: { on: true }, defaultVariant: "on" };
  const ff = (flags) => ({
    apiVersion: "core.openfeature.dev/v1beta1", kind: "FeatureFlag", metadata: md,
    spec: { flagSpec: { flags } },
  });
  assert.doesNotThrow(() => validateCustom(ff({ a: flag }), "ok"));
  assert.throws(() => validateCustom(ff({ a: { ...flag, state: "ON" } }), "x"), /state/);
  assert.throws(() => validateCustom(ff({ a: { ...flag, defaultVariant: null } }), "x"),
                /defaultVariant/);
  assert.throws(() => validateCustom(ff({ a: { ...flag, rollout: 5 } }), "x"), /rollout/);
  const { defaultVariant, ...noDefault } = flag;
  assert.throws(() => validateCustom(ff({ a: noDefault }), "x"), /defaultVariant/);
  assert.throws(() => validateCustom({ ...ff({}), metadata: { name: "Bad_Name" } }, "x"),
                /metadata.name/);
  const rule = (r) => ({
    apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: md,
    spec: { groups: [{ name: "g", interval: "30s", rules: [r] }] },
  });
  assert.doesNotThrow(() => validateCustom(rule({ alert: "A", expr: "up == 0", for: "1m30s" }),
                                           "ok"));
  assert.throws(() => validateCustom(rule({ alert: "A", expr: "up == 0", for: "5 minutes" }),
                                     "x"), /for/);
  assert.throws(() => validateCustom(rule({ alert: "A" }), "x"), /expr/);
  assert.throws(() => validateCustom({
    apiVersion: "core.openfeature.dev/v1beta1", kind: "Flagd", metadata: md, spec: {},
  }, "x"), /featureFlagSource/);
  const ffs = {
    apiVersion: "core.openfeature.dev/v1beta1", kind: "FeatureFlagSource", metadata: md,
    spec: { sources: [{ source: "other", provider: "kubernetes" }] },
  };
  assert.throws(() => checkOperatorRefs(ffs, [ffs], "x"), /no FeatureFlag other/);
});

test("every vendored CRD is used by a golden file", () => {
  const seen = new Set();
  for (const file of goldens) {
    for (const d of yaml.loadAll(fs.readFileSync(path.join(testdata, file), "utf8"))) {
      if (d) seen.add(`${d.apiVersion} ${d.kind}`);
    }
  }
  for (const key of crdValidators.keys()) assert.ok(seen.has(key), `${key} in no golden file`);
});
