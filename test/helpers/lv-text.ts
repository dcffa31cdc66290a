/**
 * LV sections of LVM's text metadata, added to a vgcfgbackup file for the real
 * lvm2's vgcfgrestore: the only way it makes raid1 and mirror LVs on a host
 * without device-mapper, and the fast way to make many LVs.
 */

export const VISIBLE = ["READ", "WRITE", "VISIBLE"];
export const HIDDEN = ["READ", "WRITE"];

/** Ids in LVM's dashed form, distinct per call, from a tag of letters and digits. */
export function idMaker(tag: string): () => string {
  let n = 0;
  return () => {
    const s = `${tag}${(n++).toString(36)}`.padStart(32, "0");
    return [s.slice(0, 6), s.slice(6, 10), s.slice(10, 14), s.slice(14, 18), s.slice(18, 22), s.slice(22, 26), s.slice(26)].join("-");
  };
}

const list = (items: string[]): string => items.map((s) => `"${s}"`).join(", ");

/** One LV of one segment; `segment` holds the segment's lines after start_extent. */
export function lvSection(name: string, id: string, status: string[], segment: string[], creation?: { time: number; host: string }): string {
  const created = creation ? [`creation_time = ${creation.time}`, `creation_host = "${creation.host}"`] : [];
  const lines = [`${name} {`, `id = "${id}"`, `status = [${list(status)}]`, "flags = []", ...created, "segment_count = 1", "segment1 {", "start_extent = 0", ...segment, "}", "}"];
  return lines.map((l) => `\t\t${l}\n`).join("");
}

export function linearSegment(count: number, pv: string, pe: number): string[] {
  return [`extent_count = ${count}`, 'type = "striped"', "stripe_count = 1", `stripes = ["${pv}", ${pe}]`];
}

export function raid1Segment(name: string, legs: number, extents: number): string[] {
  const raids = Array.from({ length: legs }, (_, i) => `"${name}_rmeta_${i}", "${name}_rimage_${i}"`).join(", ");
  return [`extent_count = ${extents}`, 'type = "raid1"', `device_count = ${legs}`, "region_size = 4096", `raids = [${raids}]`];
}

/** A raid1 LV and its sub-LVs as lvcreate lays them out: leg i is rmeta at legs[i].pe and the image right after. */
export function raid1Sections(name: string, extents: number, legs: { pv: string; pe: number }[], id: () => string, creation?: { time: number; host: string }): string {
  return (
    lvSection(name, id(), VISIBLE, raid1Segment(name, legs.length, extents), creation) +
    legs
      .map(
        (leg, i) =>
          lvSection(`${name}_rimage_${i}`, id(), HIDDEN, linearSegment(extents, leg.pv, leg.pe + 1), creation) +
          lvSection(`${name}_rmeta_${i}`, id(), HIDDEN, linearSegment(1, leg.pv, leg.pe), creation),
      )
      .join("")
  );
}

/** A vgcfgbackup file with `sections` appended to its logical_volumes (made if the VG has none). */
export function withLvSections(backup: string, sections: string): string {
  // logical_volumes is the VG's last subsection: it closes right before the VG does.
  const vgEnd = backup.lastIndexOf("\n}");
  if (/^\tlogical_volumes \{$/m.test(backup)) {
    const at = backup.lastIndexOf("\n\t}", vgEnd);
    return backup.slice(0, at + 1) + sections + backup.slice(at + 1);
  }
  return `${backup.slice(0, vgEnd)}\n\tlogical_volumes {\n${sections}\t}\n${backup.slice(vgEnd)}`;
}
