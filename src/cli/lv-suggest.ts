/**
 * A hint after lvm's "Failed to find logical volume": the closest name the VG
 * does have, when one is plausibly what was meant. Guides get sub-LV names
 * wrong by their LV part (`lv_backup_rimage_1` for `lv_mirror_rimage_1`), so
 * a name ending in `_rimage_N`/`_rmeta_N` is matched against the LVs with that
 * same ending first; any other name only against names a few typos away.
 */

const SUB_LV_SUFFIX = /_(?:rimage|rmeta)_\d+$/;

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i ? (j ? 0 : i) : j)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** The closest of `names` (first wins a tie), among those `eligible` allows. */
function closest(wanted: string, names: string[], eligible: (name: string, distance: number) => boolean): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    if (name === wanted) continue;
    const distance = editDistance(wanted, name);
    if (eligible(name, distance) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/**
 * The LV name of `names` (a VG's LVs, in its order) to suggest for `wanted`,
 * which it does not have; undefined when none is plausible.
 */
export function suggestLvName(wanted: string, names: string[]): string | undefined {
  const suffix = SUB_LV_SUFFIX.exec(wanted)?.[0];
  const sameSuffix = suffix && closest(wanted, names, (name) => name.endsWith(suffix));
  if (sameSuffix) return sameSuffix;
  // About one typo per three characters of the longer name: "lv1" for "lv2", never "a" for "b".
  return closest(wanted, names, (name, distance) => distance <= Math.floor(Math.max(wanted.length, name.length) / 3));
}

/** lvm's "not found" for an LV of `vg`, and the suggestion line when there is one. */
export function lvNotFoundLines(vg: { name: string; lvs: readonly { name: string }[] }, wanted: string): string[] {
  const suggestion = suggestLvName(wanted, vg.lvs.map((lv) => lv.name));
  return [`Failed to find logical volume "${vg.name}/${wanted}"`, ...(suggestion ? [`Did you mean "${vg.name}/${suggestion}"?`] : [])];
}
