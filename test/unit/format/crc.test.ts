import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { LVM_CRC_INITIAL, lvmCrc } from "../../../src/core/crc.ts";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../fixtures/real/${name}`, import.meta.url)));
const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

test("reference vectors", () => {
  assert.equal(lvmCrc(new Uint8Array()), LVM_CRC_INITIAL);
  assert.equal(lvmCrc(new TextEncoder().encode("123456789")), 0x4991cf02);
  assert.equal(lvmCrc(new Uint8Array(492)), 0x02c81f10);
  assert.equal(lvmCrc(new Uint8Array(508)), 0x6702d122);
});

test("checksums stored by real lvm2 match", () => {
  const pv0 = fixture("pv0-head.bin");
  // label: CRC of 0x14..0x1FF of the label sector
  assert.equal(lvmCrc(pv0.subarray(0x214, 0x400)), u32(pv0, 0x210));
  // mda header: CRC of 0x04..0x1FF
  assert.equal(lvmCrc(pv0.subarray(0x1004, 0x1200)), u32(pv0, 0x1000));
  // metadata text (with its NUL) against raw_locn[0].checksum
  assert.equal(lvmCrc(fixture("vg0-raw.txt")), u32(pv0, 0x1038));
  const orphan = fixture("orphan-head.bin");
  assert.equal(lvmCrc(orphan.subarray(0x1004, 0x1200)), 0xdb8ed616);
});

test("equals zlib's CRC-32 with LVM's initial value and no final XOR", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
      assert.equal(lvmCrc(data), (crc32(data, ~LVM_CRC_INITIAL >>> 0) ^ 0xffffffff) >>> 0);
    }),
  );
});

test("chaining over parts equals the CRC of the concatenation", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), (a, b) => {
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      assert.equal(lvmCrc(b, lvmCrc(a)), lvmCrc(joined));
    }),
  );
});

test("works on subarrays at any alignment and stays unsigned", () => {
  const big = new Uint8Array(4099).map((_, i) => (i * 131) & 0xff);
  for (let start = 0; start < 9; start++) {
    const view = big.subarray(start);
    const copy = view.slice();
    const c = lvmCrc(view);
    assert.equal(c, lvmCrc(copy));
    assert.ok(c >= 0 && c <= 0xffffffff);
  }
});

test("500 KB of metadata text is checksummed quickly", () => {
  const text = new Uint8Array(500 * 1024).map((_, i) => 32 + (i % 90));
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) lvmCrc(text);
  const each = (performance.now() - t0) / 10;
  assert.ok(each < 20, `took ${each} ms per 500 KB`);
});
