/**
 * The one rule for comparing ulvm's reports with real lvm2's on this machine.
 * The real lvm2 here has no device-mapper: it prints lv_attr position 5 (state)
 * and 6 (open) as `X`, position 9 (health) of raid LVs and sub-LVs as `X`, and
 * lv_health_status of raid LVs and sub-LVs as "unknown". ulvm prints what lvm
 * prints on a host with device-mapper. So, applied to both texts:
 *  - lv_attr positions 5 and 6 become `?`; position 9 becomes `?` for raid
 *    targets (position 7 `r`) unless it is `p` (partial, known without dm);
 *  - lv_health_status values other than "partial" (the only one known without
 *    dm), empty ones included, become `?` (JSON, --nameprefixes, and aligned
 *    tables with a "Health" heading; other layouts are left alone).
 * Nothing else is masked.
 */
const ATTR = /(?<=^|[\s"',=|])([-mMrRoOvsSpeIiltTVdDcCg])([-wrR])([-inclaINCLA])([-m])[-XasSidhIDmMcC][-Xo]([-rmsutCv])([-z])([-XprmsRwFDME])([-k])(?=$|[\s"',|])/gm;

function maskAttrs(text: string): string {
  return text.replace(ATTR, (_m, p1, p2, p3, p4, p7, p8, p9, p10) => `${p1}${p2}${p3}${p4}??${p7}${p8}${p7 === "r" && p9 !== "p" ? "?" : p9}${p10}`);
}

const maskHealthValue = (value: string) => (value === "partial" ? value : "?");

function maskHealthTable(text: string): string {
  const lines = text.split("\n");
  const heading = lines[0] ?? "";
  const at = heading.search(/(?<=\s)Health(?=\s|$)/);
  if (at < 0) return text;
  // The column runs from its heading to the next heading (or the line's end).
  const next = heading.slice(at + "Health".length).search(/\S/);
  const end = next < 0 ? undefined : at + "Health".length + next - 1;
  return lines
    .map((line, i) => {
      if (i === 0 || line.length <= at) return line;
      const cell = line.slice(at, end);
      const masked = maskHealthValue(cell.trim()).padEnd(cell.length);
      return line.slice(0, at) + masked + (end === undefined ? "" : line.slice(end));
    })
    .join("\n");
}

export function maskActivation(report: string): string {
  let text = maskAttrs(report);
  text = text.replace(/("lv_health_status":")([^"]*)(")/g, (_m, a, v, b) => `${a}${maskHealthValue(v)}${b}`);
  text = text.replace(/(LVM2_LV_HEALTH_STATUS='?)([^' ]*)/g, (_m, a, v) => `${a}${maskHealthValue(v)}`);
  return maskHealthTable(text);
}
