/**
 * deploy/kubernetes/ checked offline: every manifest is valid against the Kubernetes API schemas
 * (kubernetes-models; kubectl cannot validate without an API server), the webhook configuration
 * fails closed and never reviews its own namespace or kube-system, the Deployment is hardened, and
 * the policy in the ConfigMap is one `tagtrust admission` accepts.
 */
import test from 'ava';
import { readFile, readdir } from 'node:fs/promises';
import { parseAllDocuments, parse } from 'yaml';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { parsePolicy } from '@tagtrust/client';
import type { Json } from './helpers/admission.js';

const DIR = new URL('../deploy/kubernetes/', import.meta.url);
const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

async function manifests(): Promise<Map<string, Json>> {
  const objects = new Map<string, Json>();
  for (const file of (await readdir(DIR)).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')) {
    for (const document of parseAllDocuments(await readFile(new URL(file, DIR), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
      const object = document.toJS() as Json;
      objects.set(`${object.kind}/${object.metadata.name}`, { ...object, file });
    }
  }
  return objects;
}

test('every manifest is valid against its Kubernetes schema; kustomization lists all but the webhook configuration', async (t) => {
  const objects = await manifests();
  t.is(objects.size, 7);
  for (const [name, { file, ...object }] of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    t.truthy(Model, `${file}: no schema for ${object.apiVersion}/${object.kind}`);
    t.notThrows(() => new Model!(object as never).validate(), `${file}: ${name}`);
  }
  const kustomization = parse(await readFile(new URL('kustomization.yaml', DIR), 'utf8')) as Json;
  const files = [...objects.values()].map((o) => o.file as string).filter((f) => f !== 'mutatingwebhookconfiguration.yaml');
  t.deepEqual([...kustomization.resources].sort(), files.sort());
});

test('the webhook fails closed, reviews v1 only, has no side effects and skips its own namespace and kube-system', async (t) => {
  const webhook = (await manifests()).get('MutatingWebhookConfiguration/tagtrust-admission')!.webhooks[0] as Json;
  t.like(webhook, { failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'IfNeeded', matchPolicy: 'Equivalent' });
  t.true(webhook.timeoutSeconds * 1000 > 8_000, 'the webhook deadline (requestTimeout 8s) is inside timeoutSeconds');
  t.deepEqual(webhook.clientConfig.service, { namespace: 'tagtrust-system', name: 'tagtrust-admission', path: '/mutate', port: 443 });
  t.deepEqual(webhook.namespaceSelector.matchExpressions, [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['tagtrust-system', 'kube-system'] }]);
  const resources = (webhook.rules as Json[]).flatMap((rule) => (rule.resources as string[]).map((r) => `${rule.apiGroups[0]}/${r}`));
  t.deepEqual(resources.sort(), [
    '/pods',
    '/pods/ephemeralcontainers',
    '/replicationcontrollers',
    'apps/daemonsets',
    'apps/deployments',
    'apps/replicasets',
    'apps/statefulsets',
    'batch/cronjobs',
    'batch/jobs',
  ]);
});

test('the Deployment runs non-root on a read-only root filesystem with resources and probes; the policy parses', async (t) => {
  const objects = await manifests();
  const pod = objects.get('Deployment/tagtrust-admission')!.spec.template.spec as Json;
  const container = pod.containers[0] as Json;
  t.like(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  t.like(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  t.false(pod.automountServiceAccountToken);
  t.truthy(container.resources.requests.cpu && container.resources.limits.memory);
  t.like(container.readinessProbe.httpGet, { path: '/readyz', scheme: 'HTTPS' });
  t.like(container.livenessProbe.httpGet, { path: '/healthz', scheme: 'HTTPS' });
  t.deepEqual(container.args.slice(0, 1), ['admission']);
  const policyText = objects.get('ConfigMap/tagtrust-admission-policy')!.data['policy.yaml'] as string;
  const policy = parsePolicy(policyText, 'configmap.yaml');
  t.is(policy.defaultAction, 'deny');
  t.is(policy.requestTimeoutMs, 8_000);
  t.is(policy.rules[0]!.trust.tofu, false);
});
