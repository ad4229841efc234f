/** IP allow-lists ("10.0.0.0/8, 127.0.0.1, fd00::/8") backed by node:net's BlockList. */
import { BlockList, isIP } from "node:net";

/** Answers whether an address belongs to a configured list. */
export interface CidrMatcher {
  has(address: string | undefined): boolean;
  readonly entries: readonly string[];
}

/** Parses a comma-separated list of IPs and CIDRs; entries that are neither come back in `invalid`. */
export function parseCidrList(text: string): { matcher: CidrMatcher; invalid: string[] } {
  const list = new BlockList();
  const entries: string[] = [];
  const invalid: string[] = [];
  const exact = new Set<string>();
  for (const entry of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [addr, bits, extra] = entry.split("/");
    const family = isIP(addr ?? "");
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === 4 ? 32 : 128;
    if (!family || extra !== undefined || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max))) {
      invalid.push(entry);
      continue;
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) {
      list.addAddress(addr!, type);
      exact.add(addr!);
    } else list.addSubnet(addr!, prefix, type);
    entries.push(entry);
  }
  return {
    invalid,
    matcher: {
      entries,
      has(address) {
        if (!address || entries.length === 0) return false;
        // Listed as written (the usual case: 127.0.0.1): no BlockList lookup, which costs about
        // ten times as much and runs on every request. Other spellings of an address still match below.
        if (exact.has(address)) return true;
        const family = isIP(address);
        return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
      },
    },
  };
}
