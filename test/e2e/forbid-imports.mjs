// `node --import <this file>`: importing a package named in IOMMU_E2E_FORBID (comma-separated)
// fails. The end-to-end test uses it to show that the compiled package needs neither vitest nor
// tsx unless asked for them.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const forbidden = (process.env.IOMMU_E2E_FORBID ?? '').split(',').filter(Boolean);
export async function resolve(specifier, context, next) {
  if (forbidden.some((p) => specifier === p || specifier.startsWith(p + '/')))
    throw new Error('forbidden import of ' + specifier + ' (IOMMU_E2E_FORBID)');
  return next(specifier, context);
}`),
);
