// The --domains vocabulary: which domain kinds the harness creates, as createDomain options.
//
//   --domains LIST   LIST is comma-separated kinds; a kind is one or more words joined by '+'.
//   Words:   paging | identity | blocked        the domain type (paging when none is given)
//            nested                             v2: a nested domain (stage 1) over a paging domain
//                                               the generator picks; needs the `nesting` capability
//            strict | deferred                  invalidation
//            split | whole                      unmap mode
//            levels3 | levels4 | levels5        table depth
//            4k | 2m | 1g                       page sizes: 4K only, 4K+2M, 4K+2M+1G
//            aperture<N>                        aperture 2^N, e.g. aperture32
//            default                            the harness's default mix of kinds (all of them)
//   Example: --domains paging,deferred,whole,deferred+whole,levels3,identity,blocked
import { ALL_PAGE_SIZES, SIZE_2M, SIZE_4K, type DomainOptions } from '../../model/types.ts';
import { parseDomainOptions, resolveCapabilities } from '../../model/validate.ts';
import { DEFAULT_DOMAIN_KINDS } from '../index.ts';

export const DOMAIN_WORDS =
  'paging, identity, blocked, nested, strict, deferred, split, whole, levels3, levels4, levels5, 4k, 2m, 1g, aperture<N>, default';

export class DomainsError extends Error {}

function parseKind(kind: string): Partial<DomainOptions> {
  const options: Partial<DomainOptions> = {};
  const set = <K extends keyof DomainOptions>(key: K, value: DomainOptions[K], word: string) => {
    if (options[key] !== undefined) throw new DomainsError(`--domains: "${kind}" sets ${key} twice (at "${word}")`);
    options[key] = value;
  };
  for (const word of kind.split('+').map((w) => w.trim().toLowerCase())) {
    if (word === 'paging' || word === 'identity' || word === 'blocked' || word === 'nested') set('type', word, word);
    else if (word === 'strict' || word === 'deferred') set('invalidation', word, word);
    else if (word === 'split' || word === 'whole') set('unmap', word, word);
    else if (/^levels[345]$/.test(word)) set('levels', Number(word.slice(6)) as 3 | 4 | 5, word);
    else if (word === '4k') set('pageSizes', [SIZE_4K], word);
    else if (word === '2m') set('pageSizes', [SIZE_4K, SIZE_2M], word);
    else if (word === '1g') set('pageSizes', [...ALL_PAGE_SIZES], word);
    else if (/^aperture\d+$/.test(word)) set('aperture', 1n << BigInt(word.slice(8)), word);
    else throw new DomainsError(`--domains: unknown word "${word}" in "${kind}"; words are ${DOMAIN_WORDS}`);
  }
  // `paging` alone is spelled {} like the harness's default kind.
  if (options.type === 'paging') delete options.type;
  // A nested kind is checked with a placeholder parent, as an implementation with `nesting` would.
  const probe = options.type === 'nested' ? { ...options, parent: 0 } : options;
  if (parseDomainOptions(probe, resolveCapabilities(options.type === 'nested' ? { nesting: true } : undefined)) === undefined)
    throw new DomainsError(`--domains: "${kind}" is not a valid domain (createDomain would answer EINVAL)`);
  return options;
}

/** Parses a --domains list; `default` expands to the harness's default mix. */
export function parseDomains(list: string): Partial<DomainOptions>[] {
  const kinds = list.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (kinds.length === 0) throw new DomainsError('--domains: the list is empty');
  return kinds.flatMap((k) => (k.toLowerCase() === 'default' ? DEFAULT_DOMAIN_KINDS.map((d) => ({ ...d })) : [parseKind(k)]));
}
