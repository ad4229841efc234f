/** IP and CIDR lists (RATE_LIMIT_ALLOWLIST, TRUSTED_PROXIES). */
import { describe, expect, test } from "bun:test";
import { parseCidrList, subnetKey } from "../../src/http/cidr.ts";

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
  test("subnetKey: IPv6 masked to the prefix in any spelling; IPv4 and non-addresses unchanged", () => {
    expect(subnetKey("2001:db8:1234:5678:9abc:def0:1234:5678", 56)).toBe("2001:db8:1234:5600:0:0:0:0/56");
    // The same /56 however it is written: compressed, with a zone id, with a dotted tail.
    for (const a of ["2001:db8:1234:56ff::1", "2001:0db8:1234:5600:0:0:0:0", "2001:db8:1234:5601::%eth0", "2001:db8:1234:5600::1.2.3.4"]) {
      expect(subnetKey(a, 56)).toBe("2001:db8:1234:5600:0:0:0:0/56");
    }
    expect(subnetKey("ffff:ffff::", 17)).toBe("ffff:8000:0:0:0:0:0:0/17");
    expect(subnetKey("64:ff9b::192.0.2.33", 112)).toBe("64:ff9b:0:0:0:0:c000:0/112");
    expect(subnetKey("2001:db8::1", 128)).toBe("2001:db8::1");
    for (const a of ["203.0.113.7", "unknown", "not:an:ip"]) expect(subnetKey(a, 56)).toBe(a);
  });
});
