import { StatusError } from './status-error';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, (Buffer | number)[]>;

function readVarint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw StatusError.badRequest('truncated protobuf body');
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

function parseMessage(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    let value: Buffer | number;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      value = buf.subarray(p2, p2 + len);
      pos = p2 + len;
    } else if (wire === 1) {
      value = buf.subarray(pos, pos + 8);
      pos += 8;
    } else if (wire === 5) {
      value = buf.subarray(pos, pos + 4);
      pos += 4;
    } else throw StatusError.badRequest(`unsupported protobuf wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const str = (f: Fields, n: number): string | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};

const strs = (f: Fields, n: number): string[] =>
  (f.get(n) ?? []).filter((b): b is Buffer => Buffer.isBuffer(b)).map((b) => b.toString('utf8'));

function stringMap(f: Fields, n: number): Record<string, string> | undefined {
  const entries = (f.get(n) ?? []).filter((b): b is Buffer => Buffer.isBuffer(b));
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = parseMessage(e);
    out[str(kv, 1) ?? ''] = str(kv, 2) ?? '';
  }
  return out;
}

function objectMeta(buf: Buffer | undefined): Record<string, unknown> {
  if (!buf) return {};
  const f = parseMessage(buf);
  const meta: Record<string, unknown> = {};
  const name = str(f, 1);
  if (name) meta.name = name;
  const generateName = str(f, 2);
  if (generateName) meta.generateName = generateName;
  const namespace = str(f, 3);
  if (namespace) meta.namespace = namespace;
  const rv = str(f, 6);
  if (rv) meta.resourceVersion = rv;
  const labels = stringMap(f, 11);
  if (labels) meta.labels = labels;
  const annotations = stringMap(f, 12);
  if (annotations) meta.annotations = annotations;
  const finalizers = strs(f, 14);
  if (finalizers.length > 0) meta.finalizers = finalizers;
  return meta;
}

/**
 * Decodes the protobuf bodies kubectl's typed commands send (`kubectl create namespace|configmap|secret`), which
 * only carry metadata and string maps. Other kinds are rejected with 415, which makes the gap explicit.
 */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw StatusError.badRequest('protobuf body without the k8s magic prefix');
  const unknown = parseMessage(body.subarray(4));
  const typeMetaBuf = unknown.get(1)?.[0];
  const typeMeta = Buffer.isBuffer(typeMetaBuf) ? parseMessage(typeMetaBuf) : new Map<number, (Buffer | number)[]>();
  const apiVersion = str(typeMeta, 1) ?? '';
  const kind = str(typeMeta, 2) ?? '';
  const raw = unknown.get(2)?.[0];
  const obj = Buffer.isBuffer(raw) ? parseMessage(raw) : new Map<number, (Buffer | number)[]>();
  const metaBuf = obj.get(1)?.[0];
  const metadata = objectMeta(Buffer.isBuffer(metaBuf) ? metaBuf : undefined);
  switch (kind) {
    case 'Namespace':
      return { apiVersion, kind, metadata };
    case 'ConfigMap': {
      const data = stringMap(obj, 2);
      return { apiVersion, kind, metadata, ...(data ? { data } : {}) };
    }
    case 'Secret': {
      const dataEntries = (obj.get(2) ?? []).filter((b): b is Buffer => Buffer.isBuffer(b));
      const data: Record<string, string> = {};
      for (const e of dataEntries) {
        const kv = parseMessage(e);
        const v = kv.get(2)?.[0];
        data[str(kv, 1) ?? ''] = Buffer.isBuffer(v) ? v.toString('base64') : '';
      }
      const type = str(obj, 3);
      return { apiVersion, kind, metadata, ...(dataEntries.length > 0 ? { data } : {}), ...(type ? { type } : {}) };
    }
    default:
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `kube-sim cannot decode protobuf bodies of kind ${kind}; send JSON`,
      );
  }
}
