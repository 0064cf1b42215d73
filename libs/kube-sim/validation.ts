import { type KubeObject, type LabelSelector, type PodSpec, deepEqual, isRecord } from './kube-object';
import { matchesSelector, selectorFromLabelSelector } from './label-selector';
import { type StatusCause } from './status-error';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAMED = new Set(['Namespace', 'Service']);

function validateName(obj: KubeObject): StatusCause[] {
  const name = obj.metadata.name ?? '';
  if (LABEL_NAMED.has(obj.kind)) {
    if (name.length > 63 || !DNS1123_LABEL.test(name))
      return [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
        },
      ];
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
    return [
      {
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      },
    ];
  return [];
}

function validatePodSpec(spec: PodSpec | undefined, field: string): StatusCause[] {
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0)
    return [{ field: `${field}.containers`, message: 'Required value', reason: 'FieldValueRequired' }];
  const out: StatusCause[] = [];
  spec.containers.forEach((c, i) => {
    if (!c.name)
      out.push({ field: `${field}.containers[${i}].name`, message: 'Required value', reason: 'FieldValueRequired' });
    if (!c.image)
      out.push({ field: `${field}.containers[${i}].image`, message: 'Required value', reason: 'FieldValueRequired' });
  });
  return out;
}

function validateWorkload(obj: KubeObject, previous: KubeObject | undefined): StatusCause[] {
  const spec = (isRecord(obj.spec) ? obj.spec : {}) as {
    selector?: LabelSelector;
    template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
  };
  const out: StatusCause[] = [];
  const selector = spec.selector;
  const hasSelector =
    !!selector && (Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions ?? []).length > 0);
  if (!hasSelector) out.push({ field: 'spec.selector', message: 'Required value', reason: 'FieldValueRequired' });
  const labels = spec.template?.metadata?.labels ?? {};
  if (hasSelector && !matchesSelector(selectorFromLabelSelector(selector), labels))
    out.push({
      field: 'spec.template.metadata.labels',
      message: `Invalid value: ${JSON.stringify(labels)}: \`selector\` does not match template \`labels\``,
    });
  if (previous && obj.kind !== 'ReplicaSet') {
    const before = (previous.spec as { selector?: LabelSelector } | undefined)?.selector;
    if (before && !deepEqual(before, selector))
      out.push({ field: 'spec.selector', message: `Invalid value: ${JSON.stringify(selector)}: field is immutable` });
  }
  out.push(...validatePodSpec(spec.template?.spec, 'spec.template.spec'));
  return out;
}

/** Validation that real clients run into (kubernetes pkg/apis/…/validation); anything else is accepted as is. */
export function validateObject(obj: KubeObject, previous: KubeObject | undefined): StatusCause[] {
  const out = validateName(obj);
  switch (obj.kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      out.push(...validateWorkload(obj, previous));
      break;
    case 'Job': {
      const spec = obj.spec as { template?: { spec?: PodSpec } } | undefined;
      out.push(...validatePodSpec(spec?.template?.spec, 'spec.template.spec'));
      const rp = spec?.template?.spec?.restartPolicy;
      if (rp !== 'Never' && rp !== 'OnFailure')
        out.push({
          field: 'spec.template.spec.restartPolicy',
          message: `Unsupported value: "${rp ?? 'Always'}": supported values: "OnFailure", "Never"`,
          reason: 'FieldValueNotSupported',
        });
      if (previous && !deepEqual((previous.spec as { template?: unknown }).template, spec?.template))
        out.push({ field: 'spec.template', message: 'Invalid value: field is immutable' });
      break;
    }
    case 'Pod':
      out.push(...validatePodSpec(obj.spec as PodSpec | undefined, 'spec'));
      break;
    default:
      break;
  }
  return out;
}
