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

test("kustomization golden lists only files that are rendered", () => {
  const k = yaml.load(fs.readFileSync(path.join(testdata, "shop-kustomization.yaml"), "utf8"));
  assert.equal(k.kind, "Kustomization");
  assert.ok(Array.isArray(k.resources) && k.resources.length > 0);
  for (const r of k.resources) assert.match(r, /^[a-z]+-[a-z0-9-]+\.yaml$/);
});
