/** The "Did you mean" hint after an LV name is not found. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { editDistance, suggestLvName } from "../../../src/cli/lv-suggest.ts";

const GUIDE_VG = ["lv_mirror", "lv_mirror_rimage_0", "lv_mirror_rmeta_0", "lv_mirror_rimage_1", "lv_mirror_rmeta_1"];

test("the guide's lv_backup_rimage_1 points to the split image lv_mirror_rimage_1", () => {
  assert.equal(suggestLvName("lv_backup_rimage_1", GUIDE_VG), "lv_mirror_rimage_1");
  assert.equal(suggestLvName("lv_backup_rmeta_0", GUIDE_VG), "lv_mirror_rmeta_0");
});

test("with several LVs of the same suffix the closest name wins", () => {
  const names = ["data_rimage_1", "lv_mirror_rimage_1", "lv_mirror2_rimage_1"];
  assert.equal(suggestLvName("lv_mirorr_rimage_1", names), "lv_mirror_rimage_1");
  assert.equal(suggestLvName("dat_rimage_1", names), "data_rimage_1");
});

test("other names need to be a few typos away", () => {
  assert.equal(suggestLvName("lv_mirorr", GUIDE_VG), "lv_mirror");
  assert.equal(suggestLvName("lv_mirro", GUIDE_VG), "lv_mirror");
  assert.equal(suggestLvName("lv2", ["lv1", "data"]), "lv1");
  assert.equal(suggestLvName("lv_backup", GUIDE_VG), undefined);
  assert.equal(suggestLvName("b", ["a"]), undefined);
  assert.equal(suggestLvName("anything", []), undefined);
  // No LV with that suffix: the ordinary rule still finds a near name.
  assert.equal(suggestLvName("lv_mirror_rimage_5", GUIDE_VG), "lv_mirror_rimage_0");
  assert.equal(suggestLvName("backup_rimage_7", GUIDE_VG), undefined);
});

test("a tie goes to the LV that comes first in the VG", () => {
  assert.equal(suggestLvName("lv3", ["lv1", "lv2"]), "lv1");
  assert.equal(suggestLvName("x_rimage_0", ["a_rimage_0", "b_rimage_0"]), "a_rimage_0");
});

test("edit distance counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("mirror", "mirorr"), 1);
  assert.equal(editDistance("backup", "mirror"), 6);
  assert.equal(editDistance("", "abc"), 3);
});

test("property: edit distance is a symmetric measure that is 0 only for equal names and never suggests the name itself", () => {
  const name = fc.stringMatching(/^[a-z_0-9]{0,12}$/);
  fc.assert(
    fc.property(name, name, fc.array(name, { maxLength: 6 }), (a, b, names) => {
      const d = editDistance(a, b);
      assert.equal(d, editDistance(b, a));
      assert.equal(d === 0, a === b);
      assert.ok(d <= Math.max(a.length, b.length));
      const suggestion = suggestLvName(a, names);
      assert.notEqual(suggestion, a);
      if (suggestion !== undefined) assert.ok(names.includes(suggestion));
    }),
  );
});
