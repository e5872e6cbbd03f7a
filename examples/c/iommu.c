/*
 * A small IOMMU speaking the iommu-conformance subprocess protocol (JSON Lines on stdin/stdout).
 * See CONTRACT.md, "Subprocess protocol", and docs/PROTOCOL.md.
 *
 *   cc -O2 -o iommu iommu.c                      # correct build
 *   cc -O2 -DSTALE_IOTLB_BUG -o iommu-bug iommu.c # strict unmap forgets to invalidate the IOTLB
 *   iommu-conformance check --exec ./iommu
 *
 * Domains hold a sorted array of extents (one per map call, split by partial unmaps). A tiny
 * IOTLB of 8 entries, tagged by domain id, is filled by translate and invalidated by unmap in
 * strict domains, by flush in deferred domains, and dropped when a domain is destroyed.
 * Requests have a fixed flat shape, so the JSON parser is minimal. Declared capabilities:
 * deviceIdBits 24 (like a RISC-V 3-level device directory) and pasidReplace (v2: replacePasid
 * swaps a PASID's domain in one step); everything else defaults. The IOTLB is tagged by domain,
 * not by device or PASID, and translate looks the domain up first, so a replace needs no
 * invalidation: the old domain's entries are simply no longer reached through that PASID.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

typedef uint64_t u64;
typedef uint32_t u32;

#define DEVICE_ID_BITS 24
#define PASID_BITS 20
#define PA_LIMIT (1ULL << 52)
#define SZ_4K 0x1000ULL
#define SZ_2M 0x200000ULL
#define SZ_1G 0x40000000ULL
#define IOTLB_SIZE 8
#define READ 1
#define WRITE 2

/* ---------------------------------------------------------------- minimal JSON ---------- */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
	enum jtype t;
	double num;
	int boolean;
	char *str;          /* J_STR: NUL-terminated (inside the line buffer copy) */
	struct jval *kids;  /* J_ARR / J_OBJ: first child */
	struct jval *next;  /* sibling */
	char *key;          /* member name when inside an object */
};

#define JPOOL 4096
static struct jval pool[JPOOL];
static int npool;
static char *jp; /* cursor */

static void ws(void) { while (*jp == ' ' || *jp == '\t' || *jp == '\r' || *jp == '\n') jp++; }

static struct jval *jnew(enum jtype t)
{
	if (npool >= JPOOL) return NULL;
	struct jval *v = &pool[npool++];
	memset(v, 0, sizeof *v);
	v->t = t;
	return v;
}

/* Parses a string in place; returns its start or NULL. Escapes are kept simple. */
static char *jstring(void)
{
	if (*jp != '"') return NULL;
	char *start = ++jp, *w = jp;
	while (*jp && *jp != '"') {
		if (*jp == '\\') {
			jp++;
			switch (*jp) {
			case 'n': *w++ = '\n'; break;
			case 't': *w++ = '\t'; break;
			case 'u': /* keep it as '?': no key or value of the protocol needs one */
				for (int i = 0; i < 4; i++) if (jp[1]) jp++;
				*w++ = '?';
				break;
			case 0: return NULL;
			default: *w++ = *jp;
			}
			jp++;
		} else {
			*w++ = *jp++;
		}
	}
	if (*jp != '"') return NULL;
	jp++;
	*w = 0;
	return start;
}

static struct jval *jvalue(int depth)
{
	struct jval *v;
	if (depth > 16) return NULL;
	ws();
	if (*jp == '{' || *jp == '[') {
		int obj = *jp == '{';
		char close = obj ? '}' : ']';
		v = jnew(obj ? J_OBJ : J_ARR);
		if (!v) return NULL;
		jp++;
		ws();
		struct jval **tail = &v->kids;
		if (*jp == close) { jp++; return v; }
		for (;;) {
			char *key = NULL;
			ws();
			if (obj) {
				key = jstring();
				if (!key) return NULL;
				ws();
				if (*jp++ != ':') return NULL;
			}
			struct jval *k = jvalue(depth + 1);
			if (!k) return NULL;
			k->key = key;
			*tail = k;
			tail = &k->next;
			ws();
			if (*jp == ',') { jp++; continue; }
			if (*jp == close) { jp++; return v; }
			return NULL;
		}
	}
	if (*jp == '"') {
		v = jnew(J_STR);
		if (!v || !(v->str = jstring())) return NULL;
		return v;
	}
	if (!strncmp(jp, "null", 4)) { jp += 4; return jnew(J_NULL); }
	if (!strncmp(jp, "true", 4)) { jp += 4; v = jnew(J_BOOL); if (v) v->boolean = 1; return v; }
	if (!strncmp(jp, "false", 5)) { jp += 5; v = jnew(J_BOOL); return v; }
	if (*jp == '-' || (*jp >= '0' && *jp <= '9')) {
		char *end;
		double d = strtod(jp, &end);
		if (end == jp) return NULL;
		jp = end;
		v = jnew(J_NUM);
		if (v) v->num = d;
		return v;
	}
	return NULL;
}

static struct jval *jparse(char *line)
{
	npool = 0;
	jp = line;
	struct jval *v = jvalue(0);
	if (!v) return NULL;
	ws();
	return *jp ? NULL : v;
}

static struct jval *jget(struct jval *obj, const char *key)
{
	if (!obj || obj->t != J_OBJ) return NULL;
	for (struct jval *k = obj->kids; k; k = k->next)
		if (!strcmp(k->key, key)) return k;
	return NULL;
}

/* An integer argument in [lo, limit). */
static int get_int(struct jval *obj, const char *key, double lo, double limit, u64 *out)
{
	struct jval *v = jget(obj, key);
	if (!v || v->t != J_NUM) return 0;
	if (!(v->num >= lo && v->num < limit) || floor(v->num) != v->num) return 0;
	*out = (u64)v->num;
	return 1;
}

/* A u64 as a hex string "0x..." (leading zeros allowed). */
static int hex_u64(struct jval *v, u64 *out)
{
	if (!v || v->t != J_STR) return 0;
	const char *s = v->str;
	if (s[0] != '0' || s[1] != 'x' || !s[2]) return 0;
	u64 x = 0;
	for (s += 2; *s; s++) {
		int d;
		if (*s >= '0' && *s <= '9') d = *s - '0';
		else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
		else return 0;
		if (x >> 60) return 0; /* would not fit in 64 bits */
		x = x << 4 | (u64)d;
	}
	*out = x;
	return 1;
}

static int get_u64(struct jval *obj, const char *key, u64 *out) { return hex_u64(jget(obj, key), out); }

/* ---------------------------------------------------------------- state --------------- */
enum dtype { D_PAGING, D_IDENTITY, D_BLOCKED };

struct extent { u64 iova, pa, size; int prot; };

struct domain {
	u32 id;
	enum dtype type;
	int levels;
	int deferred;
	int whole;
	u64 aperture;
	struct extent *ext;
	size_t n, cap;
};

struct rid { u32 device; u32 domain; };
struct pasid_att { u32 device; u32 pasid; u32 domain; };
struct tlb { int valid; u32 domain; u64 page, pa; int prot; };

static struct domain *domains;
static size_t ndomains, capdomains;
static struct rid *rids;
static size_t nrids, caprids;
static struct pasid_att *pasids;
static size_t npasids, cappasids;
static struct tlb iotlb[IOTLB_SIZE];
static int tlb_next;

#define GROW(arr, n, cap) do { if ((n) == (cap)) { (cap) = (cap) ? 2 * (cap) : 8; \
	(arr) = realloc((arr), (cap) * sizeof *(arr)); if (!(arr)) { perror("realloc"); exit(1); } } } while (0)

static struct domain *find_domain(u32 id)
{
	for (size_t i = 0; i < ndomains; i++) if (domains[i].id == id) return &domains[i];
	return NULL;
}

static void reset_all(void)
{
	for (size_t i = 0; i < ndomains; i++) free(domains[i].ext);
	ndomains = nrids = npasids = 0;
	memset(iotlb, 0, sizeof iotlb);
	tlb_next = 0;
}

static void tlb_drop_domain(u32 dom)
{
	for (int i = 0; i < IOTLB_SIZE; i++)
		if (iotlb[i].valid && iotlb[i].domain == dom) iotlb[i].valid = 0;
}

static void tlb_drop_range(u32 dom, u64 iova, u64 end)
{
	for (int i = 0; i < IOTLB_SIZE; i++)
		if (iotlb[i].valid && iotlb[i].domain == dom && iotlb[i].page >= iova && iotlb[i].page < end)
			iotlb[i].valid = 0;
}

/* ---------------------------------------------------------------- answers ------------- */
static void ok(void) { fputs("{\"ok\":true}\n", stdout); }
static void err(const char *e) { printf("{\"ok\":false,\"error\":\"%s\"}\n", e); }
static void fault(const char *f) { printf("{\"ok\":false,\"fault\":\"%s\"}\n", f); }

#define DOMAIN_LIMIT 4294967296.0
#define FAIL(e) do { err(e); return; } while (0)
#define FAULT(f) do { fault(f); return; } while (0)

/* ---------------------------------------------------------------- operations ---------- */
static int is_pow2(u64 x) { return x && !(x & (x - 1)); }

static void op_create(struct jval *req)
{
	u64 id;
	if (!get_int(req, "id", 0, DOMAIN_LIMIT, &id)) FAIL("EINVAL");
	struct domain d = { .id = (u32)id, .type = D_PAGING, .levels = 4 };
	struct jval *opts = jget(req, "options");
	int paging_only = 0, have_aperture = 0;
	u64 aperture = 0;
	if (opts) {
		if (opts->t != J_OBJ) FAIL("EINVAL");
		for (struct jval *k = opts->kids; k; k = k->next) {
			const char *key = k->key;
			if (!strcmp(key, "type")) {
				if (k->t != J_STR) FAIL("EINVAL");
				if (!strcmp(k->str, "paging")) d.type = D_PAGING;
				else if (!strcmp(k->str, "identity")) d.type = D_IDENTITY;
				else if (!strcmp(k->str, "blocked")) d.type = D_BLOCKED;
				else FAIL("EINVAL");
				continue;
			}
			paging_only = 1;
			if (!strcmp(key, "levels")) {
				if (k->t != J_NUM || (k->num != 3 && k->num != 4 && k->num != 5)) FAIL("EINVAL");
				d.levels = (int)k->num;
			} else if (!strcmp(key, "pageSizes")) {
				int has4k = 0;
				if (k->t != J_ARR) FAIL("EINVAL");
				for (struct jval *s = k->kids; s; s = s->next) {
					u64 sz;
					if (!hex_u64(s, &sz) || (sz != SZ_4K && sz != SZ_2M && sz != SZ_1G)) FAIL("EINVAL");
					if (sz == SZ_4K) has4k = 1;
				}
				if (!has4k) FAIL("EINVAL");
				/* The extents do not care about page sizes: any choice is unobservable. */
			} else if (!strcmp(key, "invalidation")) {
				if (k->t != J_STR) FAIL("EINVAL");
				if (!strcmp(k->str, "strict")) d.deferred = 0;
				else if (!strcmp(k->str, "deferred")) d.deferred = 1;
				else FAIL("EINVAL");
			} else if (!strcmp(key, "unmap")) {
				if (k->t != J_STR) FAIL("EINVAL");
				if (!strcmp(k->str, "split")) d.whole = 0;
				else if (!strcmp(k->str, "whole")) d.whole = 1;
				else FAIL("EINVAL");
			} else if (!strcmp(key, "aperture")) {
				if (!hex_u64(k, &aperture)) FAIL("EINVAL");
				have_aperture = 1;
			} else {
				FAIL("EINVAL"); /* unknown key */
			}
		}
	}
	if (d.type != D_PAGING && paging_only) FAIL("EINVAL");
	if (d.type == D_PAGING) {
		u64 limit = 1ULL << (12 + 9 * d.levels);
		if (have_aperture) {
			if (!is_pow2(aperture) || aperture < (1ULL << 21) || aperture > limit) FAIL("EINVAL");
			d.aperture = aperture;
		} else {
			d.aperture = limit;
		}
	}
	if (find_domain(d.id)) FAIL("EEXIST");
	GROW(domains, ndomains, capdomains);
	domains[ndomains++] = d;
	ok();
}

static void op_destroy(struct jval *req)
{
	u64 id;
	if (!get_int(req, "id", 0, DOMAIN_LIMIT, &id)) FAIL("EINVAL");
	struct domain *d = find_domain((u32)id);
	if (!d) FAIL("ENOENT");
	for (size_t i = 0; i < nrids; i++) if (rids[i].domain == id) FAIL("EBUSY");
	for (size_t i = 0; i < npasids; i++) if (pasids[i].domain == id) FAIL("EBUSY");
	tlb_drop_domain((u32)id);
	free(d->ext);
	*d = domains[--ndomains];
	ok();
}

static void op_attach(struct jval *req)
{
	u64 dev, dom;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev) ||
	    !get_int(req, "domain", 0, DOMAIN_LIMIT, &dom))
		FAIL("EINVAL");
	if (!find_domain((u32)dom)) FAIL("ENOENT");
	for (size_t i = 0; i < nrids; i++)
		if (rids[i].device == dev) { rids[i].domain = (u32)dom; ok(); return; }
	GROW(rids, nrids, caprids);
	rids[nrids++] = (struct rid){ (u32)dev, (u32)dom };
	ok();
}

static void op_detach(struct jval *req)
{
	u64 dev;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev)) FAIL("EINVAL");
	for (size_t i = 0; i < nrids; i++)
		if (rids[i].device == dev) { rids[i] = rids[--nrids]; ok(); return; }
	err("ENOENT");
}

static void op_attach_pasid(struct jval *req)
{
	u64 dev, pasid, dom;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev) ||
	    !get_int(req, "pasid", 1, (double)(1ULL << PASID_BITS), &pasid) ||
	    !get_int(req, "domain", 0, DOMAIN_LIMIT, &dom))
		FAIL("EINVAL");
	if (!find_domain((u32)dom)) FAIL("ENOENT");
	for (size_t i = 0; i < npasids; i++)
		if (pasids[i].device == dev && pasids[i].pasid == pasid) FAIL("EBUSY");
	GROW(pasids, npasids, cappasids);
	pasids[npasids++] = (struct pasid_att){ (u32)dev, (u32)pasid, (u32)dom };
	ok();
}

/* v2: replaces the domain of an attached (device, PASID) in one step, never blocking it between. */
static void op_replace_pasid(struct jval *req)
{
	u64 dev, pasid, dom;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev) ||
	    !get_int(req, "pasid", 1, (double)(1ULL << PASID_BITS), &pasid) ||
	    !get_int(req, "domain", 0, DOMAIN_LIMIT, &dom))
		FAIL("EINVAL");
	if (!find_domain((u32)dom)) FAIL("ENOENT");
	for (size_t i = 0; i < npasids; i++)
		if (pasids[i].device == dev && pasids[i].pasid == pasid) { pasids[i].domain = (u32)dom; ok(); return; }
	err("ENOENT"); /* no domain to replace: nothing changes */
}

static void op_detach_pasid(struct jval *req)
{
	u64 dev, pasid;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev) ||
	    !get_int(req, "pasid", 1, (double)(1ULL << PASID_BITS), &pasid))
		FAIL("EINVAL");
	for (size_t i = 0; i < npasids; i++)
		if (pasids[i].device == dev && pasids[i].pasid == pasid) { pasids[i] = pasids[--npasids]; ok(); return; }
	err("ENOENT");
}

/* iova + size within the aperture, without u64 overflow. */
static int in_aperture(u64 iova, u64 size, u64 aperture)
{
	return size <= aperture && iova <= aperture - size;
}

static void op_map(struct jval *req)
{
	u64 dom, iova, pa, size, prot;
	if (!get_int(req, "domain", 0, DOMAIN_LIMIT, &dom) || !get_u64(req, "iova", &iova) ||
	    !get_u64(req, "pa", &pa) || !get_u64(req, "size", &size) || !get_int(req, "prot", 1, 4, &prot))
		FAIL("EINVAL");
	struct domain *d = find_domain((u32)dom);
	if (!d) FAIL("ENOENT");
	if (d->type != D_PAGING || size == 0 || (iova | pa | size) & (SZ_4K - 1)) FAIL("EINVAL");
	if (!in_aperture(iova, size, d->aperture) || !in_aperture(pa, size, PA_LIMIT)) FAIL("ERANGE");
	size_t pos = 0;
	for (size_t i = 0; i < d->n; i++) {
		struct extent *e = &d->ext[i];
		if (e->iova < iova + size && iova < e->iova + e->size) FAIL("EEXIST");
		if (e->iova < iova) pos = i + 1;
	}
	GROW(d->ext, d->n, d->cap);
	memmove(&d->ext[pos + 1], &d->ext[pos], (d->n - pos) * sizeof *d->ext);
	d->ext[pos] = (struct extent){ iova, pa, size, (int)prot };
	d->n++;
	ok();
}

static void op_unmap(struct jval *req)
{
	u64 dom, iova, size, end, removed = 0;
	if (!get_int(req, "domain", 0, DOMAIN_LIMIT, &dom) || !get_u64(req, "iova", &iova) || !get_u64(req, "size", &size))
		FAIL("EINVAL");
	struct domain *d = find_domain((u32)dom);
	if (!d) FAIL("ENOENT");
	if (d->type != D_PAGING || size == 0 || (iova | size) & (SZ_4K - 1)) FAIL("EINVAL");
	if (!in_aperture(iova, size, d->aperture)) FAIL("ERANGE");
	end = iova + size;
	if (d->whole) {
		for (size_t i = 0; i < d->n; i++) {
			struct extent *e = &d->ext[i];
			u64 eend = e->iova + e->size;
			if (e->iova < end && iova < eend && (e->iova < iova || eend > end)) FAIL("EINVAL");
		}
	}
	/* Rebuild the extent array without [iova, end), splitting extents that straddle it. */
	size_t cap = d->n + 1; /* one extent may split in two */
	struct extent *out = malloc(cap * sizeof *out);
	size_t m = 0;
	if (!out) { perror("malloc"); exit(1); }
	for (size_t i = 0; i < d->n; i++) {
		struct extent e = d->ext[i];
		u64 eend = e.iova + e.size;
		if (eend <= iova || e.iova >= end) { out[m++] = e; continue; }
		u64 lo = e.iova > iova ? e.iova : iova, hi = eend < end ? eend : end;
		removed += hi - lo;
		if (e.iova < lo) out[m++] = (struct extent){ e.iova, e.pa, lo - e.iova, e.prot };
		if (hi < eend) out[m++] = (struct extent){ hi, e.pa + (hi - e.iova), eend - hi, e.prot };
	}
	free(d->ext);
	d->ext = out;
	d->n = m;
	d->cap = cap;
#ifndef STALE_IOTLB_BUG
	if (!d->deferred) tlb_drop_range(d->id, iova, end);
#else
	(void)tlb_drop_range; /* the bug: strict unmap leaves the cached translations in place */
#endif
	printf("{\"ok\":true,\"value\":\"0x%llx\"}\n", (unsigned long long)removed);
}

static void op_flush(struct jval *req)
{
	u64 dom;
	if (!get_int(req, "domain", 0, DOMAIN_LIMIT, &dom)) FAIL("EINVAL");
	struct domain *d = find_domain((u32)dom);
	if (!d) FAIL("ENOENT");
	if (d->type == D_PAGING && d->deferred) tlb_drop_domain(d->id);
	ok();
}

static void op_translate(struct jval *req)
{
	u64 dev, pasid = 0, iova;
	struct jval *p = jget(req, "pasid");
	struct jval *a = jget(req, "access");
	int is_write;
	if (!get_int(req, "device", 0, (double)(1ULL << DEVICE_ID_BITS), &dev) || !p || !get_u64(req, "iova", &iova) || !a ||
	    a->t != J_STR)
		FAIL("EINVAL");
	if (!strcmp(a->str, "read")) is_write = 0;
	else if (!strcmp(a->str, "write")) is_write = 1;
	else FAIL("EINVAL");
	if (p->t != J_NULL && !get_int(req, "pasid", 1, (double)(1ULL << PASID_BITS), &pasid)) FAIL("EINVAL");

	struct domain *d = NULL;
	if (p->t == J_NULL) {
		for (size_t i = 0; i < nrids; i++) if (rids[i].device == dev) d = find_domain(rids[i].domain);
	} else {
		for (size_t i = 0; i < npasids; i++)
			if (pasids[i].device == dev && pasids[i].pasid == pasid) d = find_domain(pasids[i].domain);
	}
	if (!d || d->type == D_BLOCKED) FAULT("blocked");
	if (d->type == D_IDENTITY) {
		if (iova >= PA_LIMIT) FAULT("not-mapped");
		printf("{\"ok\":true,\"pa\":\"0x%llx\"}\n", (unsigned long long)iova);
		return;
	}
	if (iova >= d->aperture) FAULT("not-mapped");
	u64 page = iova & ~(SZ_4K - 1), pa_page = 0;
	int prot = 0, hit = 0;
	for (int i = 0; i < IOTLB_SIZE; i++)
		if (iotlb[i].valid && iotlb[i].domain == d->id && iotlb[i].page == page) {
			pa_page = iotlb[i].pa;
			prot = iotlb[i].prot;
			hit = 1;
			break;
		}
	if (!hit) {
		for (size_t i = 0; i < d->n; i++) {
			struct extent *e = &d->ext[i];
			if (e->iova <= page && page < e->iova + e->size) {
				pa_page = e->pa + (page - e->iova);
				prot = e->prot;
				hit = 1;
				break;
			}
		}
		if (!hit) FAULT("not-mapped");
		iotlb[tlb_next] = (struct tlb){ 1, d->id, page, pa_page, prot };
		tlb_next = (tlb_next + 1) % IOTLB_SIZE;
	}
	/* A read of a write-only mapping faults here (the contract allows either answer). */
	if (!(prot & (is_write ? WRITE : READ))) FAULT("permission");
	printf("{\"ok\":true,\"pa\":\"0x%llx\"}\n", (unsigned long long)(pa_page | (iova & (SZ_4K - 1))));
}

/* ---------------------------------------------------------------- main loop ----------- */
int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		struct jval *req = jparse(line);
		struct jval *op = jget(req, "op");
		if (!req || !op || op->t != J_STR) {
			fprintf(stderr, "iommu: cannot parse request: %s", line);
			err("EINVAL");
		} else if (!strcmp(op->str, "capabilities")) {
			printf("{\"ok\":true,\"value\":{\"deviceIdBits\":%d,\"pasidReplace\":true}}\n", DEVICE_ID_BITS);
		} else if (!strcmp(op->str, "reset")) {
			reset_all();
			ok();
		} else if (!strcmp(op->str, "createDomain")) op_create(req);
		else if (!strcmp(op->str, "destroyDomain")) op_destroy(req);
		else if (!strcmp(op->str, "attachDevice")) op_attach(req);
		else if (!strcmp(op->str, "detachDevice")) op_detach(req);
		else if (!strcmp(op->str, "attachPasid")) op_attach_pasid(req);
		else if (!strcmp(op->str, "detachPasid")) op_detach_pasid(req);
		else if (!strcmp(op->str, "replacePasid")) op_replace_pasid(req);
		else if (!strcmp(op->str, "map")) op_map(req);
		else if (!strcmp(op->str, "unmap")) op_unmap(req);
		else if (!strcmp(op->str, "flush")) op_flush(req);
		else if (!strcmp(op->str, "translate")) op_translate(req);
		else {
			fprintf(stderr, "iommu: unknown op %s\n", op->str);
			err("EINVAL");
		}
		fflush(stdout);
	}
	free(line);
	reset_all();
	return 0;
}
