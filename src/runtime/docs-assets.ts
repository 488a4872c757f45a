import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { DocsAssets } from '../api/routes/docs/index.ts';

/** The API viewer's files from the `swagger-ui-dist` package in node_modules (Bun, Node, Deno). */
export const docsAssetsFromNodeModules: DocsAssets = async (name) => {
  try {
    const path = createRequire(import.meta.url).resolve(`swagger-ui-dist/${name}`);
    return new Uint8Array(await readFile(path));
  } catch {
    return null;
  }
};
