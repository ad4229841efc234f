/** Proxies from the environment: NO_PROXY kept off loopback, and the proxy a URL goes through. */
import { describe, expect, test } from "bun:test";
import { loopbackNoProxy, proxyFor } from "../src/proxy-env.ts";

describe("proxy settings", () => {
  test("with a proxy set, NO_PROXY gains loopback where it lacks it (Bun's fetch would proxy 127.0.0.1)", () => {
    const loopback = "localhost,127.0.0.1,127.0.0.0/8,::1";
    expect(loopbackNoProxy({})).toEqual({});
    expect(loopbackNoProxy({ NO_PROXY: "corp.example" })).toEqual({});
    expect(loopbackNoProxy({ HTTPS_PROXY: "http://proxy:3128" })).toEqual({ NO_PROXY: loopback, no_proxy: loopback });
    const extended = "corp.example,localhost,127.0.0.1,127.0.0.0/8,::1";
    expect(loopbackNoProxy({ http_proxy: "http://proxy:3128", no_proxy: "corp.example, localhost" })).toEqual({ NO_PROXY: extended, no_proxy: extended });
    expect(loopbackNoProxy({ HTTP_PROXY: "http://proxy:3128", NO_PROXY: "*" })).toEqual({});
    expect(loopbackNoProxy({ HTTP_PROXY: "http://proxy:3128", NO_PROXY: `::1, ${loopback}` })).toEqual({});
  });

  test("proxyFor names the proxy Bun's fetch uses for a URL, NO_PROXY's exceptions and loopback going direct", () => {
    const env = { HTTPS_PROXY: "http://proxy:3128", HTTP_PROXY: "http://proxy:3128", NO_PROXY: ".internal, example.com, 10.0.0.0/8, gpu.lan:8188, [fd00::1]:8188" };
    const direct = ["http://127.0.0.1:8188", "http://127.0.0.9:8188", "http://localhost:8188", "http://[::1]:8188", "http://a.internal:8188", "http://example.com", "http://sub.example.com", "http://10.1.2.3:8188", "http://gpu.lan:8188", "http://[fd00::1]:8188"];
    const proxied = ["https://comfy.salad.cloud", "http://notexample.com", "http://11.1.2.3:8188", "http://gpu.lan:9000", "http://[fd00::2]:8188"];
    for (const url of direct) expect([url, proxyFor(url, env)]).toEqual([url, undefined]);
    for (const url of proxied) expect([url, proxyFor(url, env)]).toEqual([url, "http://proxy:3128"]);
    // https takes only HTTPS_PROXY, as Bun's fetch does; lower case works; "*" exempts every host.
    expect(proxyFor("https://comfy.salad.cloud", { HTTP_PROXY: "http://proxy:3128" })).toBeUndefined();
    expect(proxyFor("http://gpu.lan:8188", { http_proxy: "http://proxy:3128" })).toBe("http://proxy:3128");
    expect(proxyFor("http://gpu.lan:8188", { HTTP_PROXY: "http://proxy:3128", no_proxy: "*" })).toBeUndefined();
  });
});
