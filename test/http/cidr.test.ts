/** IP and CIDR lists (RATE_LIMIT_ALLOWLIST, TRUSTED_PROXIES). */
import { describe, expect, test } from "bun:test";
import { parseCidrList } from "../../src/http/cidr.ts";

describe("CIDR lists", () => {
  test("single addresses, subnets and other spellings of a listed address", () => {
    const { matcher, invalid } = parseCidrList("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8");
    expect(invalid).toEqual([]);
    for (const a of ["127.0.0.1", "10.1.2.3", "::1", "0:0:0:0:0:0:0:1", "fd12::5"]) expect(matcher.has(a)).toBe(true);
    for (const a of ["127.0.0.2", "11.0.0.1", "::2", "fe80::1", "not-an-ip", "", undefined]) expect(matcher.has(a)).toBe(false);
  });
  test("an empty list holds nothing; bad entries are reported, not guessed", () => {
    expect(parseCidrList("").matcher.has("127.0.0.1")).toBe(false);
    const { matcher, invalid } = parseCidrList("1.2.3.4/33, nope, 1.2.3.4/8/1, 192.168.0.0/16");
    expect(invalid).toEqual(["1.2.3.4/33", "nope", "1.2.3.4/8/1"]);
    expect(matcher.entries).toEqual(["192.168.0.0/16"]);
    expect(matcher.has("192.168.9.9")).toBe(true);
  });
});
