/** Works out the client's address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy. */
import { isIP } from "node:net";
import type { Context } from "hono";
import type { CidrMatcher } from "./cidr.ts";
import type { AppEnv } from "./types.ts";

/** Strips the IPv4-mapped IPv6 prefix so "::ffff:127.0.0.1" matches "127.0.0.1" rules. */
export function normalizeIp(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/**
 * An X-Forwarded-For entry as an address: some proxies (Azure's, for one) append the client's port,
 * "203.0.113.7:51234" or "[2001:db8::1]:443"; dropping such entries would count every client behind
 * the proxy as the proxy itself.
 */
export function forwardedAddress(entry: string): string {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return normalizeIp(bracketed[1]!);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  return normalizeIp(v4WithPort ? v4WithPort[1]! : text);
}

/**
 * The client's address. X-Forwarded-For is walked from the right, skipping trusted proxies, so a
 * client cannot claim an address by sending the header itself.
 */
export function resolveClientIp(c: Context<AppEnv>, trustedProxies: CidrMatcher): string {
  const peer = c.env?.requestIP?.(c.req.raw)?.address;
  let ip = peer ? normalizeIp(peer) : "unknown";
  if (peer && trustedProxies.has(ip)) {
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map(forwardedAddress).filter((s) => isIP(s));
    for (let i = hops.length - 1; i >= 0; i--) {
      ip = hops[i]!;
      if (!trustedProxies.has(ip)) break;
    }
  }
  return ip;
}
