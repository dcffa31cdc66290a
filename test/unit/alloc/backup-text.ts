/**
 * Test-only reader for the VG metadata that real lvm2 wrote (vgcfgbackup text)
 * into ulvm's model: just the parts allocation looks at. It stands in until the
 * project's config parser and model mapping exist; it is not used by src/.
 */
import type { Area, LogicalVolume, PhysicalVolume, Segment, VolumeGroup } from "../../../src/core/model/types.ts";

type Value = number | string | Value[];
interface Section {
  [key: string]: Value | Section;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|[{}[\]=,]|[^\s{}[\]=,"#]+/g;
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (/^\s/.test(t) || t.startsWith("#")) continue;
    tokens.push(t);
  }
  return tokens;
}

function parseSection(tokens: string[], pos: { i: number }): Section {
  const out: Section = {};
  while (pos.i < tokens.length && tokens[pos.i] !== "}") {
    const key = tokens[pos.i++]!;
    if (tokens[pos.i] === "{") {
      pos.i++;
      out[key] = parseSection(tokens, pos);
      pos.i++;
    } else {
      pos.i++; // "="
      out[key] = parseValue(tokens, pos);
    }
  }
  return out;
}

function parseValue(tokens: string[], pos: { i: number }): Value {
  const t = tokens[pos.i++]!;
  if (t === "[") {
    const items: Value[] = [];
    while (tokens[pos.i] !== "]") {
      if (tokens[pos.i] === ",") pos.i++;
      else items.push(parseValue(tokens, pos));
    }
    pos.i++;
    return items;
  }
  if (t.startsWith('"')) return t.slice(1, -1).replace(/\\(.)/g, "$1");
  return Number(t);
}

const isSection = (v: Value | Section | undefined): v is Section =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function stripDashes(id: string): string {
  return id.replace(/-/g, "");
}

export interface LoadedVg {
  vg: VolumeGroup;
  /** pvN key of the text -> PV id. */
  pvKeys: Map<string, string>;
}

/** Reads the first VG section of a metadata text. */
export function loadVg(text: string): LoadedVg {
  const top = parseSection(tokenize(text), { i: 0 });
  const [name, vgSec] = Object.entries(top).find(([, v]) => isSection(v)) as [string, Section];
  const pvKeys = new Map<string, string>();
  const pvs: PhysicalVolume[] = Object.entries(vgSec.physical_volumes as Section).map(([key, v]) => {
    const sec = v as Section;
    const id = stripDashes(sec.id as string);
    pvKeys.set(key, id);
    return {
      id,
      deviceHint: sec.device as string | undefined,
      status: sec.status as string[],
      flags: (sec.flags as string[] | undefined) ?? [],
      tags: [],
      devSize: sec.dev_size as number,
      peStart: sec.pe_start as number,
      peCount: sec.pe_count as number,
      extra: [],
    };
  });
  const lvSecs = isSection(vgSec.logical_volumes) ? Object.entries(vgSec.logical_volumes) : [];
  const lvs: LogicalVolume[] = lvSecs.map(([lvName, v]) => {
    const sec = v as Section;
    const segments: Segment[] = Object.values(sec)
      .filter(isSection)
      .map((seg) => {
        const [base, ...typeFlags] = (seg.type as string).split("+");
        const toArea = (items: Value[], withLe: boolean): Area[] => {
          const areas: Area[] = [];
          for (let i = 0; i < items.length; i += withLe ? 2 : 1) {
            const ref = items[i] as string;
            if (pvKeys.has(ref)) areas.push({ kind: "pv", pvId: pvKeys.get(ref)!, pe: items[i + 1] as number });
            else areas.push({ kind: "lv", lv: ref, le: withLe ? (items[i + 1] as number) : 0 });
          }
          return areas;
        };
        const raids = (seg.raids as Value[] | undefined) ?? [];
        const raidItems = raids as string[];
        return {
          startExtent: seg.start_extent as number,
          extentCount: seg.extent_count as number,
          type: base!,
          typeFlags,
          tags: [],
          stripeSize: seg.stripe_size as number | undefined,
          regionSize: seg.region_size as number | undefined,
          areas: seg.stripes
            ? toArea(seg.stripes as Value[], true)
            : toArea(raidItems.filter((n) => !n.includes("_rmeta_")), false),
          metaAreas: toArea(raidItems.filter((n) => n.includes("_rmeta_")), false),
          extra: [],
        };
      })
      .sort((a, b) => a.startExtent - b.startExtent);
    return {
      name: lvName,
      id: stripDashes(sec.id as string),
      status: sec.status as string[],
      flags: (sec.flags as string[] | undefined) ?? [],
      tags: [],
      creationTime: sec.creation_time as number | undefined,
      creationHost: sec.creation_host as string | undefined,
      allocationPolicy: sec.allocation_policy as LogicalVolume["allocationPolicy"],
      segments,
      extra: [],
    };
  });
  return {
    vg: {
      name,
      id: stripDashes(vgSec.id as string),
      seqno: vgSec.seqno as number,
      format: "lvm2",
      status: vgSec.status as string[],
      flags: [],
      tags: [],
      extentSize: vgSec.extent_size as number,
      maxLv: 0,
      maxPv: 0,
      allocationPolicy: vgSec.allocation_policy as VolumeGroup["allocationPolicy"],
      metadataCopies: 0,
      pvs,
      lvs,
      extra: [],
    },
    pvKeys,
  };
}
