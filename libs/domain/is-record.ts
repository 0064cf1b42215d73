/** A JSON object (not null, not an array): what a key of a stage context, a manifest or a request body may hold. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
