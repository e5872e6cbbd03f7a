// Mutation runs only (vitest.mutation.config.ts): test files that failed last run first (the
// neighbouring mutants are often killed by the same file), then the quickest first. Stryker
// stops a mutant's run at the first failing test, so a mutant that a short property suite
// kills need not wait for the long harness runs, which vitest's default order puts first.
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';

export class CheapFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    // The cache's key of a file, as vitest's own sequencer builds it.
    const key = (f: TestSpecification): string => `${f.project.name}:${f.moduleId.slice(this.ctx.config.root.length + 1)}`;
    const state = (f: TestSpecification): { failed: boolean; duration: number } | undefined => cache.getFileTestResults(key(f));
    const size = (f: TestSpecification): number => cache.getFileStats(key(f))?.size ?? 0;
    return [...files].sort((a, b) => {
      const sa = state(a);
      const sb = state(b);
      if (sa && sb) {
        if (sa.failed !== sb.failed) return sa.failed ? -1 : 1;
        return sa.duration - sb.duration;
      }
      return size(a) - size(b);
    });
  }
}
