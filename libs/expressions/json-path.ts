/** One step into a JSON value: a key of an object or an index of an array. */
export type JsonPathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Formats a location in the pipeline validator's style: `stages[3].manifests[0].spec.image`, with keys that are
 * not identifiers quoted as `['some-key']`.
 */
export function formatJsonPath(segments: readonly JsonPathSegment[], base = ''): string {
  let path = base;
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return path;
}
