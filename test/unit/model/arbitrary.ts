/**
 * fast-check arbitraries of valid VGs for property tests: linear (possibly
 * multi-segment), striped and raid1 LVs (with rimage/rmeta sub-LVs laid out as
 * lvcreate does), some PVs MISSING. Every generated VG passes validateVg and is
 * in canonical form (flags in LVM's order, visible LVs listed first as after a
 * reread), so text round trips are exact.
 */
import fc from "fast-check";
import { ID_ALPHABET } from "../../../src/core/format/id.ts";
import type { AllocPolicy, LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";

/** LVM generates ids from the first 62 symbols only. */
const GENERATED = ID_ALPHABET.slice(0, 62);

export const arbId: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...GENERATED), { minLength: 32, maxLength: 32 })
  .map((chars) => chars.join(""));

/** Ids unique within one VG: a random stem and a per-object suffix. */
function idFactory(stem: string): () => string {
  let next = 0;
  return () => {
    let n = next++;
    let suffix = "";
    for (let i = 0; i < 4; i++, n = Math.floor(n / 62)) suffix = GENERATED[n % 62] + suffix;
    return stem.slice(0, 28) + suffix;
  };
}

/** Names without `_`, so they never clash with sub-LV names or hit a reserved infix. */
export const arbLvName: fc.Arbitrary<string> = fc
  .stringMatching(/^[a-z][a-z0-9+.-]{0,11}$/)
  .filter((n) => !n.startsWith("pvmove") && !n.startsWith("snapshot"));

export const arbVgName: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,15}$/).filter((n) => n !== "." && n !== "..");

export const arbTag: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9_+.\-/=!:&#]{1,12}$/);

const arbPolicy: fc.Arbitrary<AllocPolicy> = fc.constantFrom("contiguous", "cling", "normal", "anywhere");

interface LvPlan {
  name: string;
  kind: "linear" | "striped" | "raid1";
  extents: number;
  /** Stripes or raid legs. */
  width: number;
  /** Preferred first PV (index modulo the PV count). */
  pv: number;
  stripeSizeLog2: number;
  regionSizeLog2: number;
  tags: string[];
  creationTime?: number;
  policy?: AllocPolicy;
  readAhead?: number;
  minor?: number;
  activationSkip: boolean;
  notSynced: boolean;
  rebuildLeg?: number;
}

const arbPlan: fc.Arbitrary<LvPlan> = fc.record(
  {
    name: arbLvName,
    kind: fc.constantFrom("linear", "striped", "raid1"),
    extents: fc.integer({ min: 1, max: 40 }),
    width: fc.integer({ min: 2, max: 4 }),
    pv: fc.nat(7),
    stripeSizeLog2: fc.integer({ min: 3, max: 11 }),
    regionSizeLog2: fc.integer({ min: 10, max: 13 }),
    tags: fc.uniqueArray(arbTag, { maxLength: 2 }),
    creationTime: fc.integer({ min: 1, max: 2 ** 32 }),
    policy: arbPolicy,
    readAhead: fc.constantFrom(-1, 256, 8192),
    minor: fc.integer({ min: 0, max: 255 }),
    activationSkip: fc.boolean(),
    notSynced: fc.boolean(),
    rebuildLeg: fc.nat(3),
  },
  { requiredKeys: ["name", "kind", "extents", "width", "pv", "stripeSizeLog2", "regionSizeLog2", "tags", "activationSkip", "notSynced"] },
);

interface PvPlan {
  peCount: number;
  missing: boolean;
  tags: string[];
  bootloader: boolean;
  allocatable: boolean;
}

const arbPvPlan: fc.Arbitrary<PvPlan> = fc.record({
  peCount: fc.integer({ min: 1, max: 120 }),
  missing: fc.boolean(),
  tags: fc.uniqueArray(arbTag, { maxLength: 2 }),
  bootloader: fc.boolean(),
  allocatable: fc.boolean(),
});

/** Bump allocation per PV: what a plan gets depends only on the plans before it. */
class Space {
  readonly next: number[];
  constructor(private readonly pvs: PhysicalVolume[]) {
    this.next = pvs.map(() => 0);
  }
  free(i: number): number {
    return this.pvs[i]!.peCount - this.next[i]!;
  }
  take(i: number, count: number): number {
    const pe = this.next[i]!;
    this.next[i] = pe + count;
    return pe;
  }
}

function linearSegment(startExtent: number, extentCount: number, pvId: string, pe: number): Segment {
  return { startExtent, extentCount, type: "striped", typeFlags: [], tags: [], areas: [{ kind: "pv", pvId, pe }], metaAreas: [], extra: [] };
}

function buildLvs(plans: LvPlan[], pvs: PhysicalVolume[], newId: () => string): LogicalVolume[] {
  const space = new Space(pvs);
  const lvs: LogicalVolume[] = [];
  const order = (first: number): number[] => pvs.map((_, i) => (first + i) % pvs.length);
  const base = (plan: LvPlan, name: string, visible: boolean): LogicalVolume => {
    const lv: LogicalVolume = {
      name,
      id: newId(),
      status: visible ? ["READ", "WRITE", "VISIBLE"] : ["READ", "WRITE"],
      flags: [],
      tags: visible ? plan.tags : [],
      segments: [],
      extra: [],
    };
    if (plan.creationTime !== undefined) Object.assign(lv, { creationTime: plan.creationTime, creationHost: "vm" });
    return lv;
  };
  for (const plan of plans) {
    const top = base(plan, plan.name, true);
    applyOptions(plan, top);
    if (plan.kind === "linear") {
      let le = 0;
      for (const i of order(plan.pv)) {
        const count = Math.min(space.free(i), plan.extents - le);
        if (count <= 0) continue;
        top.segments.push(linearSegment(le, count, pvs[i]!.id, space.take(i, count)));
        le += count;
        if (le === plan.extents) break;
      }
      if (le === 0) continue;
      lvs.push(top);
    } else if (plan.kind === "striped") {
      const per = Math.max(1, Math.ceil(plan.extents / plan.width));
      const chosen = order(plan.pv).filter((i) => space.free(i) >= per).slice(0, plan.width);
      if (chosen.length < 2) continue;
      top.segments.push({
        startExtent: 0,
        extentCount: per * chosen.length,
        type: "striped",
        typeFlags: [],
        tags: [],
        stripeSize: 2 ** plan.stripeSizeLog2,
        areas: chosen.map((i) => ({ kind: "pv", pvId: pvs[i]!.id, pe: space.take(i, per) })),
        metaAreas: [],
        extra: [],
      });
      lvs.push(top);
    } else {
      const chosen = order(plan.pv).filter((i) => space.free(i) >= plan.extents + 1).slice(0, plan.width);
      if (chosen.length < 2) continue;
      if (plan.notSynced) top.status.push("NOTSYNCED");
      const subs: LogicalVolume[] = [];
      chosen.forEach((pvIndex, leg) => {
        const pvId = pvs[pvIndex]!.id;
        const meta = base(plan, `${plan.name}_rmeta_${leg}`, false);
        meta.segments.push(linearSegment(0, 1, pvId, space.take(pvIndex, 1)));
        const image = base(plan, `${plan.name}_rimage_${leg}`, false);
        image.segments.push(linearSegment(0, plan.extents, pvId, space.take(pvIndex, plan.extents)));
        if (plan.rebuildLeg === leg) {
          image.status.push("REBUILD");
          meta.status.push("REBUILD");
        }
        subs.push(image, meta);
      });
      top.segments.push({
        startExtent: 0,
        extentCount: plan.extents,
        type: "raid1",
        typeFlags: [],
        tags: [],
        regionSize: 2 ** plan.regionSizeLog2,
        areas: chosen.map((_, leg) => ({ kind: "lv", lv: `${plan.name}_rimage_${leg}`, le: 0 })),
        metaAreas: chosen.map((_, leg) => ({ kind: "lv", lv: `${plan.name}_rmeta_${leg}`, le: 0 })),
        extra: [],
      });
      lvs.push(top, ...subs);
    }
  }
  const visible = (lv: LogicalVolume): boolean => lv.status.includes("VISIBLE");
  return [...lvs.filter(visible), ...lvs.filter((lv) => !visible(lv))];
}

function applyOptions(plan: LvPlan, lv: LogicalVolume): void {
  if (plan.policy !== undefined) lv.allocationPolicy = plan.policy;
  if (plan.readAhead !== undefined) lv.readAhead = plan.readAhead;
  if (plan.minor !== undefined) {
    lv.status.splice(2, 0, "FIXED_MINOR");
    lv.major = 253;
    lv.minor = plan.minor;
  }
  if (plan.activationSkip) lv.flags.push("ACTIVATION_SKIP");
}

export interface VgArbitraryOptions {
  maxPvs?: number;
  maxLvs?: number;
  /** Allow PVs flagged MISSING (default true). */
  missingPvs?: boolean;
}

export function arbVolumeGroup(options: VgArbitraryOptions = {}): fc.Arbitrary<VolumeGroup> {
  const { maxPvs = 5, maxLvs = 6, missingPvs = true } = options;
  return fc
    .record({
      name: arbVgName,
      idStem: arbId,
      seqno: fc.integer({ min: 1, max: 2 ** 31 }),
      extentSize: fc.constantFrom(8, 128, 2048, 6144, 8192, 65536),
      resizeable: fc.boolean(),
      noAutoActivate: fc.boolean(),
      tags: fc.uniqueArray(arbTag, { maxLength: 3 }),
      maxLv: fc.constantFrom(0, 255),
      maxPv: fc.constantFrom(0, 255),
      metadataCopies: fc.nat(3),
      policy: fc.option(arbPolicy, { nil: undefined }),
      systemId: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/), { nil: undefined }),
      pvs: fc.array(arbPvPlan, { minLength: 1, maxLength: maxPvs }),
      lvs: fc.uniqueArray(arbPlan, { maxLength: maxLvs, selector: (p) => p.name }),
    })
    .map((r) => {
      const newId = idFactory(r.idStem);
      const vgId = newId();
      const pvs = r.pvs.map((p, i): PhysicalVolume => {
        const missing = missingPvs && p.missing;
        const pv: PhysicalVolume = {
          id: newId(),
          deviceHint: missing ? "[unknown]" : `/dev/loop${i}`,
          status: p.allocatable ? ["ALLOCATABLE"] : [],
          flags: missing ? ["MISSING"] : [],
          tags: p.tags,
          peStart: p.bootloader ? 4096 : 2048,
          peCount: p.peCount,
          devSize: (p.bootloader ? 4096 : 2048) + p.peCount * r.extentSize + 1024,
          extra: [],
        };
        if (p.bootloader) Object.assign(pv, { baStart: 2048, baSize: 2048 });
        return pv;
      });
      const vg: VolumeGroup = {
        name: r.name,
        id: vgId,
        seqno: r.seqno,
        format: "lvm2",
        status: r.resizeable ? ["RESIZEABLE", "READ", "WRITE"] : ["READ", "WRITE"],
        flags: r.noAutoActivate ? ["NOAUTOACTIVATE"] : [],
        tags: r.tags,
        extentSize: r.extentSize,
        maxLv: r.maxLv,
        maxPv: r.maxPv,
        metadataCopies: r.metadataCopies,
        pvs,
        lvs: buildLvs(r.lvs, pvs, newId),
        extra: [],
      };
      if (r.policy !== undefined) vg.allocationPolicy = r.policy;
      if (r.systemId !== undefined) vg.systemId = r.systemId;
      return vg;
    });
}
