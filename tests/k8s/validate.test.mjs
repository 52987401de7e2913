// Validates every object of the `slipway export kubernetes` golden files
// (src/export/testdata/*.yaml, kept equal to the real output by export_tests)
// against the Kubernetes 1.27 schemas of kubernetes-models, and the Argo
// Rollouts objects against @kubernetes-models/argo-rollouts.
// Run: npm ci && node --test  (ctest runs both, see k8s.cmake).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import yaml from "js-yaml";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const testdata = path.resolve(here, "../../src/export/testdata");

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
  "Rollout", "AnalysisTemplate",
]);

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
      const Model = modelsFor(doc.apiVersion)[doc.kind];
      assert.ok(Model, `${where}: no model for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(() => new Model(doc).validate(), `${where}`);
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
