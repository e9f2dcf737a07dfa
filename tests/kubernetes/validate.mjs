// Validates every manifest in deploy/kubernetes against the Kubernetes API's schemas (kubernetes-models, generated
// from the API's OpenAPI document) and KEDA's CRDs (@kubernetes-models/keda); a kind it does not know is an error, not
// a pass. Prints one line per object and exits 1 on the first file with an invalid one.
//   node tests/kubernetes/validate.mjs [DIR]     (npm ci in tests/kubernetes first; .ci/setup does)
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Service, ConfigMap } from "kubernetes-models/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { APIService } from "kubernetes-models/apiregistration.k8s.io/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";

const models = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "apiregistration.k8s.io/v1/APIService": APIService,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

const here = dirname(fileURLToPath(import.meta.url));
const directory = resolve(process.argv[2] ?? join(here, "..", "..", "deploy", "kubernetes"));
let objects = 0;
let problems = 0;
for (const file of readdirSync(directory).filter((name) => /\.ya?ml$/.test(name)).sort()) {
  for (const document of parseAllDocuments(readFileSync(join(directory, file), "utf8"))) {
    if (document.errors.length > 0) {
      console.log(`${file}: not YAML: ${document.errors[0].message}`);
      problems++;
      continue;
    }
    const object = document.toJS();
    if (object === null) continue;
    const key = `${object.apiVersion}/${object.kind}`;
    const name = `${file}: ${key} ${object.metadata?.name}`;
    const Model = models[key];
    if (!Model) {
      console.log(`${name}: no schema known for ${key} (add its model to tests/kubernetes/validate.mjs)`);
      problems++;
      continue;
    }
    try {
      new Model(object).validate();
      console.log(`${name}: valid`);
      objects++;
    } catch (error) {
      console.log(`${name}: INVALID: ${error.message}`);
      problems++;
    }
  }
}
console.log(`${objects} valid, ${problems} invalid`);
process.exit(problems === 0 && objects > 0 ? 0 : 1);
