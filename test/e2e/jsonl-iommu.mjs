// A tiny IOMMU speaking the JSON Lines protocol of docs/PROTOCOL.md, for the end-to-end test of the
// packed package (package.test.ts copies it into the temporary project): the package's own
// ReferenceIommu answers behind it. With the argument `bug`, unmap answers as if it had unmapped
// and leaves the mapping in place (a coherency bug the harness must find).
import { createInterface } from 'node:readline';
import { ReferenceIommu } from 'iommu-conformance/model';

const bug = process.argv[2] === 'bug';
const big = (v) => (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v) ? BigInt(v) : v);
const hex = (b) => '0x' + b.toString(16);
const options = (o) => {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return o;
  const out = { ...o };
  if ('aperture' in o) out.aperture = big(o.aperture);
  if (Array.isArray(o.pageSizes)) out.pageSizes = o.pageSizes.map(big);
  return out;
};
const answer = (r) => {
  if (!r.ok) return r;
  if ('pa' in r) return { ok: true, pa: hex(r.pa) };
  return typeof r.value === 'bigint' ? { ok: true, value: hex(r.value) } : { ok: true };
};

let iommu = new ReferenceIommu();
function handle(q) {
  switch (q.op) {
    case 'capabilities':
      return { ok: false, error: 'EINVAL' }; // all defaults
    case 'reset':
      iommu = new ReferenceIommu();
      return { ok: true };
    case 'createDomain':
      return answer(q.options === undefined ? iommu.createDomain(q.id) : iommu.createDomain(q.id, options(q.options)));
    case 'destroyDomain':
      return answer(iommu.destroyDomain(q.id));
    case 'attachDevice':
      return answer(iommu.attachDevice(q.device, q.domain));
    case 'detachDevice':
      return answer(iommu.detachDevice(q.device));
    case 'attachPasid':
      return answer(iommu.attachPasid(q.device, q.pasid, q.domain));
    case 'detachPasid':
      return answer(iommu.detachPasid(q.device, q.pasid));
    case 'replacePasid':
      return answer(iommu.replacePasid(q.device, q.pasid, q.domain));
    case 'map':
      return answer(iommu.map(q.domain, big(q.iova), big(q.pa), big(q.size), q.prot));
    case 'unmap':
      if (bug && typeof big(q.size) === 'bigint') return { ok: true, value: hex(big(q.size)) };
      return answer(iommu.unmap(q.domain, big(q.iova), big(q.size)));
    case 'flush':
      return answer(iommu.flush(q.domain));
    case 'translate':
      return answer(iommu.translate(q.device, q.pasid, big(q.iova), q.access));
    default:
      return { ok: false, error: 'EINVAL' };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  process.stdout.write(JSON.stringify(handle(JSON.parse(line))) + '\n');
}
