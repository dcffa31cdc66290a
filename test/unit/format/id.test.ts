import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../../src/core/errors.ts";
import { ID_ALPHABET, formatId, generateId, parseId } from "../../../src/core/format/id.ts";

const idArb = fc.array(fc.constantFrom(...ID_ALPHABET), { minLength: 32, maxLength: 32 }).map((a) => a.join(""));

test("alphabet is LVM's 64 distinct symbols", () => {
  assert.equal(ID_ALPHABET.length, 64);
  assert.equal(new Set(ID_ALPHABET).size, 64);
  assert.ok(ID_ALPHABET.startsWith("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"));
});

test("generateId maps each random byte modulo 62", () => {
  const bytes = new Uint8Array(32);
  bytes.set([0, 9, 10, 35, 36, 61, 62, 63, 123, 124, 255]);
  const id = generateId((n) => {
    assert.equal(n, 32);
    return bytes;
  });
  assert.equal(id.slice(0, 11), "09azAZ01Z07");
  assert.equal(id.length, 32);
});

test("generated ids never use the last two symbols and always parse", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
      const id = generateId(() => bytes);
      assert.equal(id.length, 32);
      assert.ok(!id.includes("!") && !id.includes("#"));
      assert.equal(parseId(formatId(id)), id);
    }),
  );
});

test("a short random source is an error", () => {
  assert.throws(() => generateId(() => new Uint8Array(31)), FormatError);
});

test("formatId groups 6-4-4-4-4-4-6 (ids from real labels and metadata)", () => {
  assert.equal(formatId("ARjRcdLiwfPS7PkDXAnVFg9bGh22BRZm"), "ARjRcd-Liwf-PS7P-kDXA-nVFg-9bGh-22BRZm");
  assert.equal(formatId("NhSdzcb7cdlCFbuhH6XzfIldVA4IM1tU"), "NhSdzc-b7cd-lCFb-uhH6-XzfI-ldVA-4IM1tU");
  assert.equal(formatId("#orphans_lvm2_padding_to_32chars".replaceAll("_", "x")), "#orphansxlvm2xpaddingxtox32chars");
  assert.throws(() => formatId("short"), FormatError);
});

test("parseId strips dashes anywhere and round-trips with formatId", () => {
  fc.assert(
    fc.property(idArb, fc.array(fc.nat(32)), (id, cuts) => {
      assert.equal(parseId(formatId(id)), id);
      let dashed = id;
      for (const c of cuts.sort((a, b) => b - a)) dashed = dashed.slice(0, c) + "-" + dashed.slice(c);
      assert.equal(parseId(dashed), id);
    }),
  );
});

test("parseId rejects with LVM's messages", () => {
  const err = (text: string) => {
    try {
      parseId(text);
    } catch (e) {
      assert.ok(e instanceof FormatError);
      return e.message;
    }
    assert.fail(`accepted ${text}`);
  };
  assert.equal(err("ARjRcd-Liwf-PS7P-kDXA-nVFg-9bGh-22BRZmX"), "Too many characters to be uuid.");
  assert.equal(err("ARjRcd-Liwf-PS7P-kDXA-nVFg-9bGh-22BRZ"), "Couldn't read uuid: incorrect number of characters.");
  assert.equal(err(""), "Couldn't read uuid: incorrect number of characters.");
  assert.equal(err("ARjRcd-Liwf-PS7P-kDXA-nVFg-9bGh-22BR_m"), "UUID contains invalid character '_'");
});
