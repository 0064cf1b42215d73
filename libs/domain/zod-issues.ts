import { type z } from 'zod';
import { type ErrorDetail } from './domain.errors';
import { formatJsonPath } from './json-path';

/**
 * Turns zod issues into Jibe's error details, each naming its JSON path. A missing value reads "required" rather
 * than zod's "expected string, received undefined", which is what a person fixing a pipeline wants to see.
 */
export function zodIssuesToDetails(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.input !== undefined && issue.errors.length > 0) {
      // A union failed: report the branch that got furthest rather than a vague "invalid input".
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (best.length > 0 && depth(best) > 0) {
        details.push(...zodIssuesToDetails(best, [...prefix, ...issue.path]));
        continue;
      }
    }
    details.push({ path: formatJsonPath([...prefix, ...issue.path]), message: messageOf(issue) });
  }
  return details;
}

function depth(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function messageOf(issue: z.core.$ZodIssue): string {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined) return 'required';
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
  return issue.message;
}
