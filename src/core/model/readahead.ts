/**
 * An LV's read-ahead as the text metadata keeps it: no field (or 0) for auto,
 * -1 for none, otherwise sectors, which lvm keeps to whole 4 KiB pages.
 */

/** Sectors in the 4 KiB page lvm rounds read-ahead to. */
export const PAGE_SECTORS = 8;

export interface ReadAheadSetting {
  /** The metadata's read_ahead: undefined for auto, -1 for none. */
  stored: number | undefined;
  /** Set when lvm overrode the sectors asked for (and warns so). */
  overridden?: number;
}

/** A --readahead value ("auto", "none" or sectors) as lvm stores it: sectors rounded down to whole pages, at least one. */
export function readAheadSetting(value: "auto" | "none" | number): ReadAheadSetting {
  if (value === "auto") return { stored: undefined };
  if (value === "none" || value === 0) return { stored: -1 };
  if (value % PAGE_SECTORS === 0) return { stored: value };
  const sectors = Math.max(PAGE_SECTORS, value - (value % PAGE_SECTORS));
  return { stored: sectors, overridden: sectors };
}

/** The same setting, whichever way the metadata spells auto. */
export function sameReadAhead(a: number | undefined, b: number | undefined): boolean {
  return (a || undefined) === (b || undefined);
}

/** How lvm's messages name a stored read-ahead: "auto", 0 for none, or sectors. */
export function readAheadName(stored: number | undefined): string {
  if (!stored) return "auto";
  return stored === -1 ? "0" : String(stored);
}

/** lvm's warning when it rounds the sectors asked for. */
export function overriddenReadAhead(sectors: number): string {
  return `WARNING: Overriding readahead to ${sectors} sectors, a multiple of ${PAGE_SECTORS / 2}K page size.`;
}
