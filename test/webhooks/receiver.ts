/** A webhook receiver for tests: records every POST and answers as the test says. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver answers the nth POST (from 1): a response, or "hang" (never answers). */
export type Answer = (n: number, req: Request) => Response | "hang";

export function webhookReceiver(answer: Answer = () => new Response(null, { status: 204 })) {
  const received: Received[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      received.push({ path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body: await req.text(), at: Date.now() });
      const a = answer(received.length, req);
      return a === "hang" ? new Promise<Response>(() => {}) : a;
    },
  });
  return {
    received,
    url: (path = "/hook") => `http://127.0.0.1:${server.port}${path}`,
    events: () => received.map((r) => JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, any> }),
    stop: () => server.stop(true),
  };
}
