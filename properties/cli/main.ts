// The iommu-conformance executable's entry (bin/iommu-conformance.mjs imports this through tsx).
import { runCli } from './program.ts';

// A closed pipe (`| head`) is not an error of the check.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const code = await runCli(process.argv.slice(2));
// Let stdout drain, then exit with the code (live subprocesses are killed by their exit hook).
process.exitCode = code;
setImmediate(() => process.exit(code));
