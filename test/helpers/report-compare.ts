/**
 * What may differ between ulvm's reports and the real lvm2's on this machine.
 * The real lvm2 here has no device-mapper, so it cannot know whether an LV is
 * active or open or how a raid is doing: it prints `X` in lv_attr positions 5
 * (state), 6 (open) and 9 (health, raid only). ulvm prints what lvm prints on a
 * host with device-mapper for the same state. Those three positions are masked,
 * nothing else.
 */
const LV_ATTR = /(?<=\s|^)([-mMrRoOvsSpeIiltTVdDcCg])([-wrR])([-inclaINCLA])([-m])([-XasSidhIDh])([-Xo])([-rmsutCv])([-z])([-XprmsRwFDME])([-k])(?=\s|$)/g;

export function maskActivation(report: string): string {
  return report.replace(LV_ATTR, (_m, p1, p2, p3, p4, _p5, _p6, p7, p8, p9, p10) =>
    `${p1}${p2}${p3}${p4}??${p7}${p8}${p7 === "r" ? "?" : p9}${p10}`);
}
