import type { Hook } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { problem } from './problem.ts';

/**
 * The defaultHook of every route group: a failed zod check of a path or query parameter (or of a
 * body that is not JSON at all) becomes one 400 `validation_failed` problem listing each field.
 */
export const validationHook: Hook<unknown, Env, string, Response | undefined> = (result, c) => {
  if (result.success) return;
  const errors = result.error.issues.map((i) => ({
    in: result.target,
    path: i.path.length > 0 ? i.path.map(String).join('.') : unrecognized(i),
    message: i.message,
  }));
  const first = errors[0];
  const detail = first ? `${first.in} ${first.path || '(root)'}: ${first.message}` : 'request failed validation';
  return problem(c, 'validation_failed', detail, { errors });
};

/** Unknown query parameters are reported at the root; name them so the path says which. */
function unrecognized(issue: { code: string; keys?: string[] }): string {
  return issue.code === 'unrecognized_keys' && issue.keys ? issue.keys.join(',') : '';
}
