import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/server.ts';

test('docs/api.md matches the OpenAPI document the node serves (npm run docs:api)', async () => {
  const proc = Bun.spawn([process.execPath, join('scripts', 'gen-api-docs.ts'), '--check'], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(out).toContain('up to date');
});
