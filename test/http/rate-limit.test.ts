import { describe, expect, setSystemTime, test } from "bun:test";
import { AUTH, peer, testApp } from "../helpers.ts";

const far = peer("203.0.113.7");

describe("rate limiting", () => {
  test("limits per client IP with X-RateLimit-* headers and the 429 body", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "3", RATE_LIMIT_WINDOW_MS: "60000" });
    const before = Math.floor(Date.now() / 1000);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.request("/v1/tasks", { headers: AUTH }, far);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-RateLimit-Limit")).toBe("3");
      const reset = Number(res.headers.get("X-RateLimit-Reset"));
      expect(reset).toBeGreaterThanOrEqual(before + 59);
      expect(reset).toBeLessThanOrEqual(before + 61);
      remaining.push(res.headers.get("X-RateLimit-Remaining")!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const res = await t.request("/v1/tasks", { headers: AUTH }, far);
    expect(res.status).toBe(429);
    const body = await res.json();
    expect(body).toMatchObject({ error: "Too Many Requests", message: "Rate limit exceeded", statusCode: 429 });
    expect(body.retryAfter).toBeGreaterThan(0);
    expect(res.headers.get("Retry-After")).toBe(String(body.retryAfter));
    expect(res.headers.get("X-RateLimit-Remaining")).toBe("0");
    // Another client is unaffected.
    expect((await t.request("/v1/tasks", { headers: AUTH }, peer("203.0.113.8"))).status).toBe(200);
    t.close();
  });

  test("a wall clock stepped back (NTP, a restored VM) does not stretch a window: a client is let in again when it ends", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "2", RATE_LIMIT_WINDOW_MS: "400" });
    const get = () => t.request("/v1/tasks", { headers: AUTH }, far);
    try {
      expect([(await get()).status, (await get()).status, (await get()).status]).toEqual([200, 200, 429]);
      setSystemTime(new Date(Date.now() - 3_600_000));
      const limited = await get();
      expect(limited.status).toBe(429);
      // Its reset and Retry-After are on the clock as it now reads: under a second away, not an hour.
      expect(Number(limited.headers.get("X-RateLimit-Reset"))).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
      expect(limited.headers.get("Retry-After")).toBe("1");
      await Bun.sleep(450);
      const again = await get();
      expect(again.status).toBe(200);
      expect(again.headers.get("X-RateLimit-Remaining")).toBe("1");
    } finally {
      setSystemTime();
      t.close();
    }
  });

  test("IPv6 clients are counted per /56 (RATE_LIMIT_IPV6_SUBNET), so rotating addresses gains nothing", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "2" });
    const statuses = [];
    for (const a of ["2001:db8:1:100::1", "2001:db8:1:1ff:aaaa::2", "2001:db8:1:1aa::3"]) statuses.push((await t.request("/v1/tasks", { headers: AUTH }, peer(a))).status);
    expect(statuses).toEqual([200, 200, 429]);
    // The next /56 is another client.
    expect((await t.request("/v1/tasks", { headers: AUTH }, peer("2001:db8:1:200::1"))).status).toBe(200);
    t.close();
    const perAddress = testApp({ RATE_LIMIT_MAX: "1", RATE_LIMIT_IPV6_SUBNET: "128" });
    for (const a of ["2001:db8::1", "2001:db8::2"]) expect((await perAddress.request("/v1/tasks", { headers: AUTH }, peer(a))).status).toBe(200);
    perAddress.close();
  });

  test("failed authentication counts (no free brute force)", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "2" });
    for (let i = 0; i < 2; i++) {
      const denied = await t.request("/v1/tasks", { headers: { Authorization: "Bearer guess" + i } }, far);
      expect(denied.status).toBe(403);
      // The 403 is a counted, limited response like any other.
      expect(denied.headers.get("X-RateLimit-Remaining")).toBe(String(1 - i));
      expect((await denied.json()).requestId).toBe(denied.headers.get("x-request-id")!);
    }
    expect((await t.request("/v1/tasks", { headers: AUTH }, far)).status).toBe(429);
    t.close();
  });

  test("X-Forwarded-For from an untrusted peer is ignored, so it cannot claim an allowlisted address", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "1" });
    const spoof = { ...AUTH, "X-Forwarded-For": "127.0.0.1" };
    expect((await t.request("/v1/tasks", { headers: spoof }, far)).status).toBe(200);
    expect((await t.request("/v1/tasks", { headers: spoof }, far)).status).toBe(429);
    t.close();
  });

  test("X-Forwarded-For from a trusted proxy identifies the client", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "1", TRUSTED_PROXIES: "10.0.0.0/8" });
    const proxy = peer("10.1.2.3");
    const from = (ip: string) => ({ ...AUTH, "X-Forwarded-For": `198.51.100.1, ${ip}` });
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.20") }, proxy)).status).toBe(200);
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.20") }, proxy)).status).toBe(429);
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.21") }, proxy)).status).toBe(200);
    // A trusted proxy passing on 127.0.0.1 means the client really is allowlisted.
    for (let i = 0; i < 3; i++) expect((await t.request("/v1/tasks", { headers: from("127.0.0.1") }, proxy)).status).toBe(200);
    // Entries with the client's port (as Azure's proxies write them) name that client, not the proxy.
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.30:51234") }, proxy)).status).toBe(200);
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.30:40000") }, proxy)).status).toBe(429);
    expect((await t.request("/v1/tasks", { headers: from("[2001:db8:7::1]:443") }, proxy)).status).toBe(200);
    expect((await t.request("/v1/tasks", { headers: from("198.51.100.31:51234") }, proxy)).status).toBe(200);
    t.close();
  });

  test("allowlisted addresses (IPv4-mapped too) are not limited; an empty allowlist exempts nobody", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "1" });
    for (let i = 0; i < 3; i++) expect((await t.request("/v1/tasks", { headers: AUTH }, peer("::ffff:127.0.0.1"))).status).toBe(200);
    t.close();
    const strict = testApp({ RATE_LIMIT_MAX: "1", RATE_LIMIT_ALLOWLIST: "" });
    expect((await strict.request("/v1/tasks", { headers: AUTH })).status).toBe(200);
    expect((await strict.request("/v1/tasks", { headers: AUTH })).status).toBe(429);
    strict.close();
  });

  test("/health, /ready and /metrics are never limited", async () => {
    const t = testApp({ RATE_LIMIT_MAX: "1" });
    for (let i = 0; i < 4; i++) for (const p of ["/health", "/ready", "/metrics"]) expect((await t.request(p, {}, far)).status).toBe(200);
    t.close();
  });
});
