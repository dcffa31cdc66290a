/**
 * The tree of LVM's config syntax (libdm): ordered sections and `key = value`
 * entries. Order is kept so that a parse/print round trip is faithful and fields
 * ulvm does not know survive a rewrite.
 */
export type ConfigValue =
  | { type: "int"; value: number }
  | { type: "float"; text: string }
  | { type: "string"; value: string }
  | { type: "array"; items: ConfigValue[] };

export interface ConfigSection {
  name: string;
  entries: ConfigEntry[];
}

export type ConfigEntry =
  | {
      kind: "value";
      key: string;
      value: ConfigValue;
      /** Printed after a TAB in backup files; see `commentInRaw`. */
      comment?: string;
      /** LVM keeps these comments in the on-disk (raw) form too (top-level creation_host/time). */
      commentInRaw?: boolean;
      /** Arrays that LVM prints one item (or pair) per line, e.g. stripes/raids: items per line. */
      itemsPerLine?: number;
    }
  | { kind: "section"; section: ConfigSection }
  /** An empty line, as LVM's writer emits them; parsers never produce these. */
  | { kind: "blank" };
