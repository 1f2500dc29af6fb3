/**
 * CBOR between blocks decodes to plain data only (`plainCbor`): values whose tags make a decoder
 * build objects (Error, RegExp, Set, Map, typed arrays, unknown tags, cycles) and nesting past the
 * limit are refused with an error naming what was there; plain data, dates and byte strings pass.
 */
import { Encoder, Tag } from "cbor-x";
import t from "tap";
import {
  cbor,
  codecFor,
  ErrorCode,
  MAX_PLAIN_DEPTH,
  notPlainData,
  plainCbor,
} from "../../../components/core/mod.ts";

const tagging = new Encoder({ structuredClone: true, mapsAsObjects: true, useRecords: false });

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

t.test("plain data, dates, bigints and byte strings decode as they were", async (t) => {
  const value = {
    n: 1.5,
    s: "x",
    b: true,
    nil: null,
    list: [1, [2, { deep: "yes" }]],
    bytes: new Uint8Array([1, 2]),
    when: new Date(0),
    big: 2n ** 70n,
  };
  t.same(plainCbor.decode(cbor.encode(value)), value);
  t.equal(codecFor("application/cbor"), plainCbor, "request bodies between blocks use it");
  t.ok(plainCbor.decode(cbor.encode(nested(MAX_PLAIN_DEPTH - 1))), "nesting up to the limit");
});

t.test("objects a tag would build are refused, naming what was there", async (t) => {
  const cycle: Record<string, unknown> = { name: "loop" };
  cycle.self = cycle;
  const cases: [string, Uint8Array, RegExp][] = [
    ["an Error", tagging.encode({ e: new Error("boom") }), /Error/],
    ["a RegExp", tagging.encode({ r: /(a+)+$/ }), /RegExp/],
    ["a Set", tagging.encode({ s: new Set([1]) }), /Set/],
    ["a Map", tagging.encode({ m: new Map([[1, 2]]) }), /Map/],
    ["a typed array", tagging.encode({ f: new Float64Array([1]) }), /Float64Array/],
    ["an unknown tag", cbor.encode({ x: new Tag("v", 4000) }), /Tag/],
    ["a cycle", tagging.encode(cycle), /nesting deeper than 64 \(or a cycle\)/],
    ["nesting past the limit", cbor.encode(nested(MAX_PLAIN_DEPTH + 1)), /nesting deeper/],
  ];
  for (const [what, bytes, why] of cases) {
    t.throws(() => plainCbor.decode(bytes), { code: ErrorCode.BAD_REQUEST, message: why }, what);
    t.doesNotThrow(() => cbor.decode(bytes), `${what}: a job's own snapshots still decode it`);
  }
});

t.test("notPlainData names the first thing that is not", async (t) => {
  t.equal(notPlainData({ a: [1, { b: "c" }] }), undefined);
  t.match(notPlainData({ a: [1, new Set()] }), /Set/);
  t.match(notPlainData({ f: () => 1 }), /function/);
});
