#!/usr/bin/env node
// The iommu-conformance command. The installed package runs its compiled JavaScript (dist/); tsx
// is loaded only to read a TypeScript module given to --impl. In a checkout of the repository,
// where dist/ is absent or older than the sources, the TypeScript sources run through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/properties/cli/main.js', root);
const source = new URL('properties/cli/main.ts', root);

/** The newest modification time of the package's TypeScript sources (index.ts and below). */
function newestSource() {
  const top = fileURLToPath(root);
  let newest = statSync(join(top, 'index.ts')).mtimeMs;
  for (const dir of ['model', 'impl', 'properties']) {
    for (const name of readdirSync(join(top, dir), { recursive: true })) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(join(top, dir, name)).mtimeMs);
    }
  }
  return newest;
}

const useCompiled = existsSync(compiled) && (!existsSync(source) || statSync(compiled).mtimeMs >= newestSource());
if (useCompiled) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
}
