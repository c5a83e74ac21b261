// Validates the Prometheus Operator objects (monitoring.coreos.com/v1, e.g. the
// ServiceMonitor of deploy/k8s-monitoring) that kubernetes-validate has no schema for,
// against the schemas generated from the operator's CRDs in the npm package
// @kubernetes-models/prometheus-operator (types, enums, required fields).
// Usage: node scripts/check-crds.mjs TOOLS_DIR OBJECTS.json   (a JSON array of objects)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [toolsDir, objectsFile] = process.argv.slice(2);
const models = join(toolsDir, "node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1");
let failed = false;
for (const object of JSON.parse(readFileSync(objectsFile, "utf8"))) {
  const name = `${object.kind}/${object.metadata?.name}`;
  if (object.apiVersion !== "monitoring.coreos.com/v1") {
    console.error(`specs: ${name}: no schema for ${object.apiVersion}`);
    failed = true;
    continue;
  }
  let Model;
  try {
    Model = (await import(pathToFileURL(join(models, `${object.kind}.js`))))[object.kind];
  } catch {
    console.error(`specs: ${name}: monitoring.coreos.com/v1 has no kind ${object.kind}`);
    failed = true;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`specs: ${name} conforms to the Prometheus Operator schema`);
  } catch (error) {
    console.error(`specs: ${name}: ${error.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
