/** Answers that stay open: Server-Sent Events and followed logs. */
import type { Context } from "hono";
import type { AppEnv } from "./types.ts";

/**
 * Headers every streamed answer carries: never cached, never transformed (a compressor would hold
 * lines back until a block fills), never buffered by nginx (X-Accel-Buffering).
 */
const STREAM_HEADERS = { "Cache-Control": "no-cache, no-store, no-transform", "X-Accel-Buffering": "no" };

/**
 * A streamed answer of `type`: its request gets no idle timeout, as a stream may stay quiet for long
 * (a task that prints nothing, a model loading).
 */
export function streamResponse(c: Context<AppEnv>, body: ReadableStream<Uint8Array>, headers: Record<string, string>): Response {
  c.env?.timeout?.(c.req.raw, 0);
  return new Response(body, { status: 200, headers: { ...headers, ...STREAM_HEADERS } });
}

/** Server-Sent Events, as `streamResponse` answers them. */
export function eventStreamResponse(c: Context<AppEnv>, body: ReadableStream<Uint8Array>): Response {
  return streamResponse(c, body, { "Content-Type": "text/event-stream; charset=utf-8", Connection: "keep-alive" });
}
