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

/** The eight 16-bit groups of an IPv6 address ("::" expanded, a dotted IPv4 tail folded in, a zone id dropped). */
function ipv6Groups(address: string): number[] {
  let text = address.split("%")[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const front = head ? head.split(":") : [];
  const back = tail ? tail.split(":") : [];
  const gap = tail === undefined ? [] : Array<string>(8 - front.length - back.length).fill("0");
  return [...front, ...gap, ...back].map((g) => parseInt(g, 16));
}

/**
 * The key an address is counted under: an IPv4 address itself, an IPv6 address its first `bits` bits
 * ("2001:db8:0:100::/56" style, groups uncompressed). One host or home often holds a whole /64 or more,
 * so counting single IPv6 addresses would let it rotate through them.
 */
export function subnetKey(address: string, bits: number): string {
  if (bits >= 128 || !address.includes(":") || isIP(address.split("%")[0]!) !== 6) return address;
  const groups = ipv6Groups(address).map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${groups.map((g) => g.toString(16)).join(":")}/${bits}`;
}
