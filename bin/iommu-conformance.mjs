#!/usr/bin/env node
// The iommu-conformance command: registers tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('../properties/cli/main.ts');
