/**
 * Which proxy the environment names for a URL, as Bun's fetch reads it: HTTPS_PROXY for https and
 * wss, HTTP_PROXY for http and ws (either case), NO_PROXY excepting hosts. Bun's WebSocket client
 * ignores these and takes a proxy only when told; this tells it the one fetch would use.
 */
import { isIP } from "node:net";
import { parseCidrList } from "./http/cidr.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** The proxy settings Bun's fetch follows, as curl and most tools do. */
const PROXY_VARIABLES = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"];
/** This machine, by name and by address; 127.0.0.1 also alone, for tools that read no CIDR in NO_PROXY. */
const LOOPBACK_NO_PROXY = ["localhost", "127.0.0.1", "127.0.0.0/8", "::1"];

/**
 * NO_PROXY (and no_proxy) extended with loopback, when a proxy is set and NO_PROXY does not already
 * cover it; nothing to change otherwise. Bun's fetch sends even http://127.0.0.1 through
 * HTTP_PROXY unless NO_PROXY names it, and there the proxy's 127.0.0.1 is the proxy itself: a
 * local ComfyUI (whose WebSocket, never proxied, still connected) and `--healthcheck` failed on any
 * machine whose proxy settings leave loopback out.
 */
export function loopbackNoProxy(env: Env): Record<string, string> {
  if (!PROXY_VARIABLES.some((name) => env[name])) return {};
  const entries = (env.NO_PROXY ?? env.no_proxy ?? "").split(",").map((e) => e.trim()).filter(Boolean);
  const missing = LOOPBACK_NO_PROXY.filter((e) => !entries.includes(e));
  if (entries.includes("*") || !missing.length) return {};
  const value = [...entries, ...missing].join(",");
  return { NO_PROXY: value, no_proxy: value };
}

/**
 * Whether NO_PROXY's entries cover this host and port: `*`, a name (and every name under it), an
 * IP or a CIDR, each optionally with `:port`.
 */
function exemptFromProxy(hostname: string, port: string, noProxy: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/).filter(Boolean)) {
    if (raw === "*") return true;
    // "host:port" and "[v6]:port"; a bare IPv6 address has colons of its own.
    const withPort = /^\[([^\]]+)\](?::(\d+))?$|^([^:]+):(\d+)$/.exec(raw);
    const entry = (withPort ? (withPort[1] ?? withPort[3])! : raw).toLowerCase();
    const entryPort = withPort ? (withPort[2] ?? withPort[4]) : undefined;
    if (entryPort !== undefined && entryPort !== port) continue;
    if (isIP(host)) {
      if (parseCidrList(entry).matcher.has(host)) return true;
      continue;
    }
    const name = entry.replace(/^\*?\./, "");
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy URL for `url`, or undefined to go direct. Loopback is always direct (see loopbackNoProxy). */
export function proxyFor(url: string, env: Env): string | undefined {
  const u = URL.parse(url);
  if (!u) return undefined;
  const secure = u.protocol === "https:" || u.protocol === "wss:";
  const proxy = secure ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!proxy) return undefined;
  const port = u.port || (secure ? "443" : "80");
  const noProxy = [env.NO_PROXY ?? env.no_proxy ?? "", ...LOOPBACK_NO_PROXY].join(",");
  return exemptFromProxy(u.hostname, port, noProxy) ? undefined : proxy;
}
